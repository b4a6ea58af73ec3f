"""Flow engine: IVR flows as validated YAML data, walked one task per call."""

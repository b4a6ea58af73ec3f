"""The flow engine: one task per call walking a flow graph; node runners."""

"""What prompts say: values read aloud (Mandarin, English), the renderer protocol."""

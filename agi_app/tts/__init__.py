"""Text-to-speech prompt pipeline: engines, 8 kHz audio, cache."""

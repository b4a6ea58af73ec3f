"""Text-to-speech prompt pipeline: engines, 8 kHz audio, cache, reading values.

Kept free of imports: the TTS worker process imports this package, and
should start quickly.
"""

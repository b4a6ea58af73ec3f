"""Benchmarks: SIPp load against the real stack, TTS renders, customer lookups."""

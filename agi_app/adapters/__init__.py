"""Adapters: one folder per outside part (ARI, FastAGI, AMI, PostgreSQL, TTS),
each implementing a core protocol. Kept free of imports (the TTS worker process
imports below here and should start quickly)."""

"""A FastAGI server of our own on asyncio streams.

panoramisk's FastAGI server spins the loop on connect-and-close, does not
split query strings, and closes unknown routes so the dialplan sees success
(field notes); this one is small and hardened instead.
"""

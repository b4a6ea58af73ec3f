"""Customer-service hotline on Asterisk: asyncio ARI application and FastAGI server."""

__version__ = "0.1.0"

"""A thin typed ARI client on aiohttp: REST calls and the event websocket."""

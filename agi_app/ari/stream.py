"""The ARI event websocket with a reconnect supervisor.

After every (re)connect ``on_connected`` runs, so the application can
reconcile with ``GET /channels``: StasisStart is not replayed for calls that
arrived or ended while we were away. Events are dispatched synchronously in
arrival order, so one channel's events can never be reordered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from agi_app.ari.events import Event, parse
from agi_app.ari.rest import AriRest

log = logging.getLogger(__name__)


class AriEventStream:
    """Reads events forever; reconnects with capped exponential backoff."""

    def __init__(
        self,
        rest: AriRest,
        on_event: Callable[[Event], None],
        on_connected: Callable[[bool], Awaitable[None]],
        *,
        backoff_first: float = 0.1,
        backoff_max: float = 3.0,
    ) -> None:
        self._rest = rest
        self._on_event = on_event
        self._on_connected = on_connected
        self._backoff_first = backoff_first
        self._backoff_max = backoff_max
        self.connected = asyncio.Event()
        self.connects = 0

    @property
    def url(self) -> str:
        ws_base = self._rest.base.replace("http://", "ws://").replace("https://", "wss://")
        return f"{ws_base}/events?app={self._rest.app}&subscribeAll=false"

    async def run(self) -> None:
        """Connect, read, reconnect; cancel the task to stop."""
        delay = self._backoff_first
        while True:
            try:
                await self._session_once()
                delay = self._backoff_first
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                log.warning(
                    "ARI websocket: %s; retrying in %.1f s", exc or type(exc).__name__, delay
                )
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    async def _session_once(self) -> None:
        session = self._rest.session()
        async with session.ws_connect(
            self.url, heartbeat=5, timeout=aiohttp.ClientWSTimeout(ws_close=2)
        ) as ws:
            reconnect = self.connects > 0
            self.connects += 1
            log.info("ARI websocket connected (%s)", "reconnect" if reconnect else "first")
            await self._on_connected(reconnect)
            self.connected.set()
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._dispatch(msg.data)
                elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    break
        log.warning("ARI websocket closed")

    def _dispatch(self, data: str) -> None:
        try:
            event = parse(orjson.loads(data))
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            log.warning("ARI: unreadable event dropped: %s", exc)
            return
        if event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # one bad event must not stop the stream for every call
            log.exception("ARI: handling %s failed", type(event).__name__)

"""The ARI event websocket's connection: picows (the default) or aiohttp.

Both hand every text message to ``on_text`` in arrival order and send text
messages. picows (Cython) parses frames in its protocol callback and calls
``on_text`` from there: no reader task woken per message, no Python frame
parser. aiohttp (``AGI_APP_ARI_WS_CLIENT=aiohttp``) reads in a task, as the
app did before; ``make bench`` measures the difference ("Levers").

A connection that cannot be made raises ``ConnectionError`` (an ``OSError``)
or ``TimeoutError``, whichever client it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal, Protocol

import aiohttp
from picows import WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

log = logging.getLogger(__name__)
OnText = Callable[[bytes | str], None]
WsClient = Literal["picows", "aiohttp"]
HEARTBEAT_S = 5.0  # a ping when the socket was idle this long; no pong as long again: closed
MAX_MESSAGE = 16 * 1024 * 1024  # a message past this is not ARI's: the connection is dropped


class WsConnection(Protocol):
    send_now: Callable[[str], None] | None  # a frame written at once, if the client can

    async def send_text(self, text: str) -> None: ...

    async def wait_closed(self) -> None: ...


class _PicowsListener(WSListener):
    def __init__(self, on_text: OnText) -> None:
        super().__init__()
        self._on_text = on_text
        self._parts: list[bytes] = []
        self._size = 0

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.TEXT and frame.fin and not self._parts:
            self._deliver(frame.get_payload_as_bytes())
        elif kind in (WSMsgType.TEXT, WSMsgType.CONTINUATION):
            self._parts.append(frame.get_payload_as_bytes())
            self._size += frame.payload_size
            if self._size > MAX_MESSAGE:
                log.warning("ARI websocket: a message over %d bytes; closing", MAX_MESSAGE)
                transport.disconnect()
            elif frame.fin:
                data, self._parts, self._size = b"".join(self._parts), [], 0
                self._deliver(data)
        elif kind == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def _deliver(self, data: bytes) -> None:
        try:
            self._on_text(data)
        except Exception:  # picows would drop the connection: one message must not
            log.exception("ARI websocket: handling a message failed")


class _Picows:
    def __init__(self, transport: WSTransport) -> None:
        self._transport = transport
        self.send_now: Callable[[str], None] | None = self._send_now

    def _send_now(self, text: str) -> None:
        if self._transport.is_disconnected:
            raise ConnectionError("ARI websocket closed")
        self._transport.send(WSMsgType.TEXT, text.encode())

    async def send_text(self, text: str) -> None:
        self._send_now(text)

    async def wait_closed(self) -> None:
        await self._transport.wait_disconnected()


class _Aiohttp:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, on_text: OnText) -> None:
        self._ws = ws
        self._on_text = on_text
        self.send_now: Callable[[str], None] | None = None  # aiohttp sends in a coroutine
        self._reader = asyncio.create_task(self._read(), name="ari-events")

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self._on_text(msg.data)
            elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                break

    async def send_text(self, text: str) -> None:
        await self._ws.send_str(text)

    async def wait_closed(self) -> None:
        await self._reader

    def close(self) -> None:
        self._reader.cancel()


@contextlib.asynccontextmanager
async def connect(
    client: WsClient,
    url: str,
    headers: Mapping[str, str],
    on_text: OnText,
    session: Callable[[], aiohttp.ClientSession],
) -> AsyncIterator[WsConnection]:
    """An open connection with ``client`` ("picows" or "aiohttp"); closed on exit."""
    if client == "aiohttp":
        async with session().ws_connect(
            url, heartbeat=HEARTBEAT_S, timeout=aiohttp.ClientWSTimeout(ws_close=2)
        ) as ws:
            conn = _Aiohttp(ws, on_text)
            try:
                yield conn
            finally:
                conn.close()
        return
    transport = await _picows_connect(url, headers, on_text)
    try:
        yield _Picows(transport)
    finally:
        if not transport.is_disconnected:
            transport.send_close()
            transport.disconnect()


async def _picows_connect(url: str, headers: Mapping[str, str], on_text: OnText) -> Any:
    try:
        transport, _listener = await ws_connect(
            lambda: _PicowsListener(on_text),
            url,
            extra_headers=dict(headers),
            websocket_handshake_timeout=5,
            enable_auto_ping=True,
            auto_ping_idle_timeout=HEARTBEAT_S,
            auto_ping_reply_timeout=HEARTBEAT_S,
            max_frame_size=MAX_MESSAGE,
        )
    except WSError as exc:  # the handshake refused (401, 404, not a websocket)
        raise ConnectionError(f"ARI websocket: {exc}") from exc
    return transport

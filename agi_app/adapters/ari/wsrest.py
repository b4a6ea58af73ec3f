"""ARI REST requests over the event websocket (Asterisk 20.14 / 21.9 / 22.4+).

A request is one ``RESTRequest`` text frame; Asterisk answers with a
``RESTResponse`` event on the same socket, matched here by ``request_id``.
Compared with one HTTP request per call step this saves HTTP framing and a
connection's worth of bookkeeping on both sides: about 0.5 ms of the app's CPU
per call in ``make bench`` (docs/BENCHMARKS.md, "Levers").

The event reader hands every ``RESTResponse`` to ``resolve``; when the socket
closes, ``fail_all`` fails what is still waiting with ConnectionError, as a
dropped HTTP connection would. Requests have no timer each: ``expire`` (run
about twice a second by the event stream) fails those older than the timeout
with TimeoutError.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agi_app.adapters.ari import jsonio

SendText = Callable[[str], Awaitable[None]]
SendNow = Callable[[str], None]  # a frame written now, or ConnectionError


@dataclass(frozen=True, slots=True)
class WsResponse:
    status: int
    body: str


def rest_request(
    request_id: str,
    method: str,
    uri: str,
    params: Sequence[tuple[str, str]] = (),
    body: Any = None,
) -> str:
    """The text of one ``RESTRequest`` frame."""
    message: dict[str, Any] = {
        "type": "RESTRequest",
        "request_id": request_id,
        "method": method,
        "uri": uri,
    }
    if params:
        # Asterisk decodes these itself: no URL-encoding of our own to get wrong.
        message["query_strings"] = [{"name": k, "value": v} for k, v in params]
    if body is not None:
        message["content_type"] = "application/json"
        message["message_body"] = jsonio.dumps(body)
    return jsonio.dumps(message)


class WsRequester:
    """Sends requests on one open websocket and matches the responses."""

    def __init__(
        self, send: SendText, timeout_s: float = 10.0, send_now: SendNow | None = None
    ) -> None:
        self._send = send
        self._send_now = send_now
        self._timeout = timeout_s
        self._ids = itertools.count(1)
        self._pending: dict[str, tuple[asyncio.Future[WsResponse], float]] = {}
        self.closed = False

    async def request(
        self,
        method: str,
        uri: str,
        params: Sequence[tuple[str, str]] = (),
        body: dict[str, Any] | None = None,
    ) -> WsResponse:
        """One request; ``uri`` without the leading ``/`` (e.g. ``channels/1/answer``)."""
        if self.closed:
            raise ConnectionError("ARI websocket closed")
        request_id, text = self._message(method, uri, params, body)
        fut: asyncio.Future[WsResponse] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (fut, time.monotonic() + self._timeout)
        try:
            await self._send(text)
            return await fut
        finally:
            self._pending.pop(request_id, None)

    def request_nowait(self, method: str, uri: str) -> bool:
        """Send a request whose answer nobody waits for (its response is dropped
        on arrival); False when this connection cannot send one that way."""
        if self.closed or self._send_now is None:
            return False
        try:
            self._send_now(self._message(method, uri)[1])
        except ConnectionError:
            return False
        return True

    def _message(
        self,
        method: str,
        uri: str,
        params: Sequence[tuple[str, str]] = (),
        body: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """A new request id and the ``RESTRequest`` frame's text."""
        request_id = f"r{next(self._ids)}"
        return request_id, rest_request(request_id, method, uri, params, body)

    def resolve(self, msg: dict[str, Any]) -> None:
        """Hand one ``RESTResponse`` event to the request waiting for it."""
        fut, _ = self._pending.pop(str(msg.get("request_id", "")), (None, 0.0))
        if fut is not None and not fut.done():
            status = msg.get("status_code")
            body = msg.get("message_body")
            fut.set_result(
                WsResponse(
                    status if isinstance(status, int) else 500,
                    body if isinstance(body, str) else "",
                )
            )

    def expire(self, now: float | None = None) -> int:
        """Fail the requests past their deadline with TimeoutError; how many."""
        now = time.monotonic() if now is None else now
        late = [rid for rid, (_, deadline) in self._pending.items() if deadline <= now]
        for rid in late:
            fut, _ = self._pending.pop(rid)
            if not fut.done():
                fut.set_exception(TimeoutError(f"ARI request {rid}: no answer in time"))
        return len(late)

    def fail_all(self, exc: BaseException) -> None:
        self.closed = True
        for fut, _ in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)
        self._pending.clear()

    @property
    def waiting(self) -> int:
        return len(self._pending)

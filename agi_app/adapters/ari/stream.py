"""The ARI event websocket with a reconnect supervisor.

After every (re)connect the stream (1) checks that Asterisk answers REST
requests on the websocket and, if so, sends the application's requests there
instead of over HTTP, (2) sets the application's event filter so Asterisk only
sends the event types ``events.event_types`` lists, and (3) runs
``on_connected`` so the application can reconcile with ``GET /channels``:
StasisStart is not replayed for calls that arrived or ended while we were
away. Events are dispatched synchronously in arrival order, so one channel's
events can never be reordered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

import aiohttp

from agi_app.adapters.ari import jsonio
from agi_app.adapters.ari.events import Event, event_types, parse
from agi_app.adapters.ari.rest import AriError, AriRest
from agi_app.adapters.ari.wsconn import WsClient, connect
from agi_app.adapters.ari.wsrest import WsRequester

log = logging.getLogger(__name__)
STABLE_SESSION_S = 5.0


def events_url(ari_base: str, app: str) -> str:
    """The event websocket of ``app`` under ARI's HTTP base URL."""
    ws_base = ari_base.replace("http://", "ws://").replace("https://", "wss://")
    return f"{ws_base}/events?app={app}&subscribeAll=false"


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
        rest_over_ws: bool = True,
        event_filter: bool = True,
        varset_events: bool = False,
        ws_client: WsClient = "picows",
    ) -> None:
        self._rest = rest
        self.ws_client = ws_client
        self._requester: WsRequester | None = None
        self._on_event = on_event
        self._on_connected = on_connected
        self._backoff_first = backoff_first
        self._backoff_max = backoff_max
        self.rest_over_ws = rest_over_ws
        self.event_filter = event_filter
        self.varset_events = varset_events
        self.probe_timeout_s = 2.0
        self.connected = asyncio.Event()
        self.connects = 0
        # Messages received by type (events the app ignores and RESTResponse too).
        self.received: Counter[str] = Counter()

    @property
    def url(self) -> str:
        return events_url(self._rest.base, self._rest.app)

    async def run(self) -> None:
        """Connect, read, reconnect; cancel the task to stop."""
        delay = self._backoff_first
        while True:
            began = asyncio.get_running_loop().time()
            try:
                await self._session_once()
                # A peer that accepts and closes at once must not be redialled at
                # full speed: only a session that lasted resets the backoff.
                if asyncio.get_running_loop().time() - began >= STABLE_SESSION_S:
                    delay = self._backoff_first
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                log.warning(
                    "ARI websocket: %s; retrying in %.1f s", exc or type(exc).__name__, delay
                )
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    async def _session_once(self) -> None:
        # picows may hand over messages that came with the handshake before
        # connect() returns: events then, never a response (nothing was asked).
        self._requester = None
        async with connect(
            self.ws_client, self.url, self._rest.headers, self._on_text, self._rest.session
        ) as ws:
            reconnect = self.connects > 0
            self.connects += 1
            log.info("ARI websocket connected (%s)", "reconnect" if reconnect else "first")
            requester = self._requester = WsRequester(ws.send_text, send_now=ws.send_now)
            sweeper = asyncio.create_task(_expire_forever(requester), name="ari-expire")
            try:
                await self._prepare(requester)
                await self._on_connected(reconnect)
                self.connected.set()
                await ws.wait_closed()
            finally:
                sweeper.cancel()
                self._close_requests(requester)
        log.warning("ARI websocket closed")

    async def _prepare(self, requester: WsRequester) -> None:
        """Requests over the websocket if Asterisk answers there; the event filter."""
        if self.rest_over_ws:
            try:
                async with asyncio.timeout(self.probe_timeout_s):
                    answer = await requester.request("GET", "asterisk/ping")
                if answer.status == 200:
                    self._rest.attach_ws(requester)
            except TimeoutError:
                log.info("ARI: no REST over the websocket here (Asterisk < 22.4); using HTTP")
        if self.event_filter:
            try:
                await self._rest.set_event_filter(event_types(self.varset_events))
            except (AriError, OSError) as exc:
                log.warning("ARI: event filter not set (%s); parsing every event", exc)
        log.info("ARI requests over %s", self._rest.transport)

    def _on_text(self, data: bytes | str) -> None:
        self._dispatch(data, self._requester)

    def _close_requests(self, requester: WsRequester) -> None:
        """New requests go over HTTP again; waiting ones fail as on a dropped connection."""
        self._rest.detach_ws(requester)
        if not requester.closed:
            requester.fail_all(ConnectionError("ARI websocket closed"))

    def _dispatch(self, data: bytes | str, requester: WsRequester | None) -> None:
        try:
            msg = jsonio.loads(data)
            self.received[str(msg.get("type"))] += 1
            if msg.get("type") == "RESTResponse":
                if requester is not None:
                    requester.resolve(msg)
                return
            event = parse(msg)
        except (TypeError, ValueError, AttributeError) as exc:
            log.warning("ARI: unreadable event dropped: %s", exc)
            return
        if event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # one bad event must not stop the stream for every call
            log.exception("ARI: handling %s failed", type(event).__name__)


async def _expire_forever(requester: WsRequester, every_s: float = 0.5) -> None:
    while not requester.closed:
        await asyncio.sleep(every_s)
        requester.expire()

"""ARI REST calls.

Errors:
    AriError            any non-2xx answer (status, body)
    └── ChannelGone     404/409/422 on a channel that has hung up or left the
                        app: the normal end of a call, not a failure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp

from agi_app.adapters.ari import jsonio
from agi_app.adapters.ari.wsrest import WsRequester

log = logging.getLogger(__name__)

GONE = (404, 409, 422)


class AriError(RuntimeError):
    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"ARI {method} {path}: {status} {body[:200]}")
        self.status = status


class ChannelGone(AriError):
    """The channel is gone (or not in our application any more)."""


def auth_header(user: str, password: str) -> str:
    # aiohttp 3.14 deprecates BasicAuth/auth=: send the header ourselves.
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Basic {token}"


def route_of(method: str, path: str) -> str:
    """The request's route with the ids left out, for counting:
    ``POST /channels/1.2/play/p7`` is ``POST channels/play``. Paths alternate
    resource and id (``/channels/ID/answer``), except under ``/asterisk/``."""
    parts = [p for p in path.strip("/").split("/") if p]
    if parts[:1] == ["asterisk"]:
        return f"{method} {'/'.join(parts)}"
    return f"{method} {'/'.join(parts[::2])}"


class AriRest:
    """The REST side of ARI; one aiohttp session per application.

    Requests go over the event websocket while one is attached (``attach_ws``,
    done by the event stream when Asterisk answers requests there) and over
    HTTP otherwise.
    """

    def __init__(
        self, base_url: str, user: str, password: str, app: str, ws_max_waiting: int = 64
    ) -> None:
        self.base = base_url.rstrip("/")
        self.app = app
        self._headers = {"Authorization": auth_header(user, password)}
        self._session: aiohttp.ClientSession | None = None
        self._ws: WsRequester | None = None
        # Asterisk runs the requests of one websocket one after another, each
        # waiting for its channel's thread; HTTP requests run in parallel. So
        # past this many unanswered websocket requests, new ones go over HTTP.
        self.ws_max_waiting = ws_max_waiting
        self.sent_ws = 0
        self.sent_http = 0
        self.sent_by_route: Counter[str] = Counter()  # route_of(...) -> requests

    def attach_ws(self, requester: WsRequester) -> None:
        self._ws = requester

    def detach_ws(self, requester: WsRequester) -> None:
        if self._ws is requester:
            self._ws = None

    @property
    def transport(self) -> str:
        return "websocket" if self._ws is not None else "http"

    @property
    def headers(self) -> dict[str, str]:
        return self._headers

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=10),
                connector=aiohttp.TCPConnector(limit=64),
                json_serialize=jsonio.dumps,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] = (),
        body: dict[str, Any] | None = None,
        channel_op: bool = False,
    ) -> Any:
        """One REST call; JSON result or None. Raises AriError / ChannelGone.

        A dropped connection raises ConnectionError (websocket) or
        aiohttp.ClientError (HTTP), both OSError-like: the call's own boundary
        handles them.
        """
        ws = self._ws if self._ws_has_room() else None
        self._count(method, path, ws is not None)
        if ws is not None:
            answer = await ws.request(method, path.lstrip("/"), params, body)
            status, data = answer.status, answer.body.encode()
        else:
            async with self.session().request(
                method, self.base + path, params=list(params), json=body
            ) as resp:
                status, data = resp.status, await resp.read()
        if status >= 300:
            cls = ChannelGone if channel_op and status in GONE else AriError
            raise cls(status, method, path, data.decode(errors="replace"))
        return jsonio.loads(data) if data else None

    def _ws_has_room(self) -> bool:
        return self._ws is not None and self._ws.waiting < self.ws_max_waiting

    def _count(self, method: str, path: str, on_ws: bool) -> None:
        self.sent_by_route[route_of(method, path)] += 1
        if on_ws:
            self.sent_ws += 1
        else:
            self.sent_http += 1

    # --- channels -------------------------------------------------------
    async def answer(self, channel: str) -> None:
        await self.request("POST", f"/channels/{channel}/answer", channel_op=True)

    async def play(self, channel: str, media: Sequence[str], playback_id: str) -> None:
        # One comma-separated value: Asterisk keeps only the last of repeated
        # media= parameters (measured: a six-sound menu played its last sound).
        params = [("media", ",".join(media))]
        await self.request(
            "POST", f"/channels/{channel}/play/{playback_id}", params, channel_op=True
        )

    def stop_playback_soon(self, playback_id: str, keep: set[asyncio.Future[None]]) -> None:
        """Stop a playback without waiting for the answer (nobody needs it): one
        frame on the websocket when the client can write it at once, else a
        request in a task (held in ``keep`` until it is done)."""
        path = f"/playbacks/{playback_id}"
        ws = self._ws if self._ws_has_room() else None
        if ws is not None and ws.request_nowait("DELETE", path[1:]):
            self._count("DELETE", path, on_ws=True)
            return
        task = asyncio.ensure_future(self._stop_quietly(playback_id))
        keep.add(task)
        task.add_done_callback(keep.discard)

    async def _stop_quietly(self, playback_id: str) -> None:
        try:
            await self.stop_playback(playback_id)
        except (AriError, OSError) as exc:  # the call's next request reports a real outage
            log.debug("stopping playback %s: %s", playback_id, exc)

    async def stop_playback(self, playback_id: str) -> None:
        with contextlib.suppress(ChannelGone):
            await self.request("DELETE", f"/playbacks/{playback_id}", channel_op=True)

    async def hangup(self, channel: str, cause: int) -> None:
        await self.request(
            "DELETE", f"/channels/{channel}", [("reason_code", str(cause))], channel_op=True
        )

    async def set_var(self, channel: str, name: str, value: str) -> None:
        await self.request(
            "POST",
            f"/channels/{channel}/variable",
            [("variable", name), ("value", value)],
            channel_op=True,
        )

    async def get_var(self, channel: str, name: str) -> str:
        data = await self.request(
            "GET", f"/channels/{channel}/variable", [("variable", name)], channel_op=True
        )
        return str(data.get("value", "")) if isinstance(data, dict) else ""

    async def continue_in_dialplan(
        self, channel: str, context: str, extension: str = "s", priority: int = 1
    ) -> None:
        params = [("context", context), ("extension", extension), ("priority", str(priority))]
        await self.request("POST", f"/channels/{channel}/continue", params, channel_op=True)

    async def subscribe_channel(self, channel: str) -> None:
        """Keep receiving this channel's events after it leaves Stasis."""
        await self.request(
            "POST",
            f"/applications/{self.app}/subscription",
            [("eventSource", f"channel:{channel}")],
            channel_op=True,
        )

    async def unsubscribe_channel(self, channel: str) -> None:
        with contextlib.suppress(AriError):
            await self.request(
                "DELETE",
                f"/applications/{self.app}/subscription",
                [("eventSource", f"channel:{channel}")],
                channel_op=True,
            )

    async def set_global(self, name: str, value: str) -> None:
        """A global dialplan variable."""
        await self.request("POST", "/asterisk/variable", [("variable", name), ("value", value)])

    async def set_event_filter(self, types: Sequence[str]) -> None:
        """Asterisk sends this application only these event types."""
        body = {"allowed": [{"type": name} for name in types], "disallowed": []}
        await self.request("PUT", f"/applications/{self.app}/eventFilter", body=body)

    async def channels(self) -> list[dict[str, Any]]:
        data = await self.request("GET", "/channels")
        return list(data or [])

    async def originate(
        self,
        endpoint: str,
        *,
        caller_id: str,
        timeout_s: int,
        app_args: str,
        variables: dict[str, str],
        channel_id: str,
    ) -> Any:
        params = [
            ("endpoint", endpoint),
            ("app", self.app),
            ("appArgs", app_args),
            ("callerId", caller_id),
            ("timeout", str(timeout_s)),
            ("channelId", channel_id),
        ]
        return await self.request("POST", "/channels", params, body={"variables": variables})

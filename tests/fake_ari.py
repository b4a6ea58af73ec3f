"""A fake Asterisk ARI at the HTTP/websocket edge, for unit tests.

It answers the REST calls the client makes, over HTTP or, like Asterisk
22.4+, as ``RESTRequest`` messages on the event websocket (``rest_over_ws``),
records them, and lets a test push events down the websocket or drop the
connection.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, list[str]]
    auth: str
    via: str = "http"
    body: Any = None


@dataclass
class FakeAri:
    channels: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    gone_channels: set[str] = field(default_factory=set)
    # Channel variables GET /channels/ID/variable answers (others: "x").
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    request_seen: asyncio.Event = field(default_factory=asyncio.Event)
    ws_connects: int = 0
    runner: web.AppRunner | None = None
    port: int = 0
    rest_over_ws: bool = True  # False: an Asterisk before 22.4 ignores RESTRequest
    hold_ws_requests: bool = False  # True: never answer (a stuck Asterisk)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/ari/events", self._events)
        app.router.add_get("/ari/channels", self._list_channels)
        app.router.add_route("*", "/ari/{tail:.*}", self._rest)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return f"http://127.0.0.1:{self.port}/ari"

    async def stop(self) -> None:
        for ws in self.sockets:
            await ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    async def _events(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws_connects += 1
        self.sockets.append(ws)
        self.connected.set()
        auth = request.headers.get("Authorization", "")
        async for msg in ws:
            if msg.type == WSMsgType.CLOSE:
                break
            if msg.type == WSMsgType.TEXT and self.rest_over_ws:
                await self._ws_request(ws, json.loads(msg.data), auth)
        return ws

    async def _ws_request(self, ws: web.WebSocketResponse, msg: dict[str, Any], auth: str) -> None:
        if msg.get("type") != "RESTRequest":
            return
        params: dict[str, list[str]] = {}
        for item in msg.get("query_strings") or ():
            params.setdefault(item["name"], []).append(item["value"])
        method, path = msg["method"], "/" + msg["uri"]
        body = json.loads(msg["message_body"]) if msg.get("message_body") else None
        self.requests.append(Request(method, path, params, auth, "ws", body))
        self.request_seen.set()
        if self.hold_ws_requests:
            return
        status, answer = self._answer(method, path, params)
        await ws.send_json(
            {
                "type": "RESTResponse",
                "request_id": msg.get("request_id", ""),
                "status_code": status,
                "uri": msg["uri"],
                "message_body": "" if answer is None else json.dumps(answer),
            }
        )

    def _answer(
        self, method: str, path: str, params: dict[str, list[str]] | None = None
    ) -> tuple[int, Any]:
        """What Asterisk would answer, for either transport."""
        parts = path.split("/")
        if path == "/channels" and method == "GET":
            return 200, self.channels
        if path == "/asterisk/ping":
            return 200, {"ping": "pong"}
        if len(parts) > 2 and parts[1] == "channels" and parts[2] in self.gone_channels:
            return 404, {"message": "Channel not found"}
        if method == "GET" and path.endswith("/variable"):
            name = (params or {}).get("variable", [""])[0]
            return 200, {"value": self.variables.get(parts[2], {}).get(name, "x")}
        return 204, None

    async def _list_channels(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.json_response(self.channels)

    async def _rest(self, request: web.Request) -> web.Response:
        params = self._record(request)
        status, answer = self._answer(request.method, request.path.removeprefix("/ari"), params)
        if answer is None:
            return web.Response(status=status)
        return web.json_response(answer, status=status)

    def _record(self, request: web.Request) -> dict[str, list[str]]:
        params: dict[str, list[str]] = {}
        for k, v in request.query.items():
            params.setdefault(k, []).append(v)
        self.requests.append(
            Request(
                request.method,
                request.path.removeprefix("/ari"),
                params,
                request.headers.get("Authorization", ""),
            )
        )
        self.request_seen.set()
        return params

    async def send(self, event: dict[str, Any]) -> None:
        """Push one event to every connected websocket."""
        await self.connected.wait()
        for ws in self.sockets:
            if not ws.closed:
                await ws.send_json(event)

    async def drop(self) -> None:
        """Close the websocket as an Asterisk restart would."""
        self.connected.clear()
        for ws in self.sockets:
            await ws.close()
        self.sockets.clear()

    async def wait_request(self, method: str, path_part: str, timeout: float = 5) -> Request:
        """Wait until a matching request has been made; return it."""
        async with asyncio.timeout(timeout):
            while True:
                for r in self.requests:
                    if r.method == method and path_part in r.path:
                        return r
                self.request_seen.clear()
                await self.request_seen.wait()


def stasis_start(
    channel_id: str,
    caller: str = "13800138000",
    exten: str = "100",
    args: tuple[str, ...] = (),
    *,
    state: str = "Ring",
) -> dict[str, Any]:
    return {
        "type": "StasisStart",
        "args": list(args),
        "channel": {
            "id": channel_id,
            "name": f"PJSIP/anonymous-{channel_id}",
            "state": state,
            "caller": {"number": caller, "name": ""},
            "dialplan": {
                "context": "hotline",
                "exten": exten,
                "priority": 2,
                "app_name": "Stasis",
                "app_data": "agi-app",
            },
        },
    }


def dtmf(channel_id: str, digit: str) -> dict[str, Any]:
    return {"type": "ChannelDtmfReceived", "digit": digit, "channel": {"id": channel_id}}


def playback_finished(channel_id: str, playback_id: str) -> dict[str, Any]:
    return {
        "type": "PlaybackFinished",
        "playback": {"id": playback_id, "target_uri": f"channel:{channel_id}"},
    }


def hangup(channel_id: str, cause: int = 16) -> dict[str, Any]:
    return {"type": "ChannelDestroyed", "cause": cause, "channel": {"id": channel_id}}


def stasis_end(channel_id: str) -> dict[str, Any]:
    """The channel left the application (for the dialplan, or hung up)."""
    return {"type": "StasisEnd", "channel": {"id": channel_id}}


def varset(channel_id: str, variable: str, value: str) -> dict[str, Any]:
    return {
        "type": "ChannelVarset",
        "variable": variable,
        "value": value,
        "channel": {"id": channel_id},
    }


def entered_bridge(channel_id: str, bridge_id: str = "bridge-1") -> dict[str, Any]:
    return {
        "type": "ChannelEnteredBridge",
        "bridge": {"id": bridge_id, "bridge_type": "mixing"},
        "channel": {"id": channel_id},
    }

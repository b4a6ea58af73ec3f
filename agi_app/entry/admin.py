"""The admin HTTP endpoint (127.0.0.1 only by default, bearer token).

POST /admin/reload          reload flows (refused versions keep the running one); no body or {}
POST /admin/clock {"now"}   set the business clock (ISO time) or reset it (null)

With several nodes (``cluster`` given), a reload, the clock and the shedding
level are applied on this node and shared with every node
(agi_app.service.cluster); the answer says ``"cluster": true`` once shared.

GET  /admin/stats[?reset=1] timing figures and counters (JSON); reset after reading
GET  /metrics               Prometheus text format: from loopback with no token, or
                            with the metrics token when one is configured
POST /admin/shedding {"level"}  force a shedding level 0-4 for non-exempt callers (QA);
                            null ends it
GET  /health                liveness and whether ARI is connected, no token

A body's key is required (``{"now": null}`` resets, ``{}`` is refused) and any
other key is refused with 400, naming it: a misspelled key must not reset the
clock or end the override on every node.

The operations console (agi_app.entry.console) shares the port: its pages and
/api routes check their own session (or the same bearer token).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from agi_app.adapters.prometheus.exporter import CONTENT_TYPE
from agi_app.core.clock import BusinessClock
from agi_app.core.controls import ControlError, check_fields
from agi_app.core.metrics import METRICS
from agi_app.entry.jsonbody import json_object
from agi_app.service.shedding import SheddingOverride

log = logging.getLogger(__name__)

Reload = Callable[[], Awaitable[dict[str, Any]]]
Stats = Callable[[], dict[str, Any]]


Exposition = Callable[[], bytes]


class Cluster(Protocol):
    """Changes applied here and on every node (service.cluster.ClusterSync)."""

    async def set_clock(self, when: datetime | None) -> dict[str, Any]: ...

    async def set_shedding(self, level: int | None) -> dict[str, Any]: ...


OPEN_PATHS = ("/health", "/metrics")  # /metrics checks its own access
BEARER_PREFIX = "/admin/"  # the console's routes check their own access
MAX_BODY = 3 * 1024 * 1024  # an uploaded announcement prompt (2 MB) and its form


def build_admin(
    token: str,
    clock: BusinessClock,
    reload: Reload,
    stats: Stats,
    exposition: Exposition | None = None,
    metrics_token: str = "",
    shedding: SheddingOverride | None = None,
    console: Callable[[web.Application], None] | None = None,
    cluster: Cluster | None = None,
) -> web.Application:
    """The aiohttp application; the caller decides where it listens. ``reload``
    is the cluster-wide one when there is a cluster."""

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        guarded = request.path.startswith(BEARER_PREFIX) or (
            console is None and request.path not in OPEN_PATHS
        )
        if guarded and not _bearer_ok(request, token):
            return web.json_response({"error": "unauthorised"}, status=401)
        result: web.StreamResponse = await handler(request)
        return result

    async def do_reload(request: web.Request) -> web.Response:
        try:
            if (await request.read()).strip():
                await _fields(request, ())
        except ControlError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        result = await reload()
        return web.json_response(result, status=200 if result.get("ok") else 422)

    async def do_clock(request: web.Request) -> web.Response:
        try:
            raw = (await _fields(request, ("now",)))["now"]
        except ControlError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        try:
            when = None if raw is None else datetime.fromisoformat(raw)
            shared = {} if cluster is None else await cluster.set_clock(when)
            if cluster is None:
                clock.set(when)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": f"bad time: {exc}"}, status=400)
        return web.json_response(
            {"ok": True, "now": clock.now().isoformat(), "overridden": clock.overridden, **shared}
        )

    async def do_shedding(request: web.Request) -> web.Response:
        try:
            level = (await _fields(request, ("level",)))["level"]
            if level is not None and (type(level) is not int or level not in range(5)):
                raise ControlError(f"level must be 0-4 or null, not {level!r}")
        except ControlError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if cluster is not None:
            return web.json_response(
                {"ok": True, "level": level, **await cluster.set_shedding(level)}
            )
        assert shedding is not None
        shedding.level = level
        log.warning("shedding override: %s", "off" if level is None else f"level {level}")
        return web.json_response({"ok": True, "level": level})

    async def admin_stats(request: web.Request) -> web.Response:
        body = {"timings": METRICS.summary(), "counters": dict(METRICS.counters), **stats()}
        if request.query.get("reset"):
            METRICS.reset()  # the bench reads figures per run
        return web.json_response(body)

    async def prometheus(request: web.Request) -> web.Response:
        allowed = _bearer_ok(request, metrics_token) if metrics_token else _loopback(request)
        if not allowed:
            return web.json_response({"error": "unauthorised"}, status=401)
        if exposition is None:
            return web.json_response({"error": "no exporter"}, status=404)
        return web.Response(body=exposition(), headers={"Content-Type": CONTENT_TYPE})

    async def health(_r: web.Request) -> web.Response:
        connected = bool(stats().get("ari_connected"))
        return web.json_response({"ok": True, "ari_connected": connected, "pid": os.getpid()})

    app = web.Application(middlewares=[auth], client_max_size=MAX_BODY)
    app.router.add_post("/admin/reload", do_reload)
    app.router.add_post("/admin/clock", do_clock)
    app.router.add_get("/admin/stats", admin_stats)
    app.router.add_get("/metrics", prometheus)
    if shedding is not None or cluster is not None:
        app.router.add_post("/admin/shedding", do_shedding)
    app.router.add_get("/health", health)
    if console is not None:
        console(app)
    return app


async def _fields(request: web.Request, fields: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of the body, with exactly ``fields``; ControlError otherwise."""
    body = await json_object(request)
    check_fields(body, fields, required=fields)
    return body


def _bearer_ok(request: web.Request, token: str) -> bool:
    given = request.headers.get("Authorization", "")
    # aiohttp gives a header's non-UTF-8 bytes as lone surrogates: still just a wrong token.
    return bool(token) and hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"),
        f"Bearer {token}".encode("utf-8", "surrogateescape"),
    )


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False

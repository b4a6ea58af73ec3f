"""The Now page's state, as one JSON snapshot (GET /api/state) and as a live
feed of server-sent events (GET /api/events): a new snapshot whenever it
differs from the last one sent, checked every second. The feed ends when the
watcher's session does (log-out, expiry), checked at the same pace.

Today's figures come from PostgreSQL at most every few seconds, shared by all
watchers; the calls in progress and the queues come from memory. Streams end
from an ``on_shutdown`` hook, so stopping the app never waits on a watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agi_app.core.clock import wall_now
from agi_app.core.controls import controls_body
from agi_app.entry.console.deps import DEPS_KEY, ConsoleDeps
from agi_app.entry.console.guard import operator, still_operator
from agi_app.service.operations import quarter_hours
from agi_app.service.report import fetch_report

log = logging.getLogger(__name__)
TICK_S = 1.0
FIGURES_S = 5.0
KEEPALIVE_S = 15.0


@dataclass
class Feed:
    """Today's figures (cached) and the open streams (to end them at shutdown)."""

    figures: dict[str, Any] = field(default_factory=dict)
    figures_at: float = -1e9
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def today(self, deps: ConsoleDeps) -> dict[str, Any]:
        async with self.lock:
            if time.monotonic() - self.figures_at >= FIGURES_S:
                self.figures = await _figures(deps)
                self.figures_at = time.monotonic()
        return self.figures


FEED_KEY = web.AppKey("console_feed", Feed)


async def _figures(deps: ConsoleDeps) -> dict[str, Any]:
    today = deps.now().date()
    try:
        pool = await deps.get_pool()
        if pool is None:
            return {"error": "the database is not reachable"}
        async with pool.acquire(timeout=2) as conn:
            day = (await fetch_report(conn, today, today, deps.timezone))[0]
            slots = await quarter_hours(conn, today, deps.timezone)
    except (OSError, TimeoutError) as exc:
        return {"error": f"database: {exc}"}
    return {**day.as_dict(), "quarter_hours": slots}


async def snapshot(deps: ConsoleDeps, feed: Feed) -> dict[str, Any]:
    """Everything the Now page shows."""
    shed = deps.shedding()
    return {
        "live": deps.live.snapshot(wall_now()),
        "queues": {
            name: {"waiting": q.waiting, "longest_hold_s": q.longest_hold_s, "free": q.available}
            for name, q in sorted(deps.queues().items())
        },
        "shedding": {"level": shed.level, "rule": shed.rule, "actions": sorted(shed.actions)},
        "controls": controls_body(deps.controls.active()),
        "today": await feed.today(deps),
    }


def _dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, default=str)


async def get_state(request: web.Request) -> web.Response:
    await operator(request)
    body = await snapshot(request.app[DEPS_KEY], request.app[FEED_KEY])
    return web.json_response(body, dumps=_dumps)


async def stream(request: web.Request) -> web.StreamResponse:
    await operator(request)
    deps, feed = request.app[DEPS_KEY], request.app[FEED_KEY]
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    last, sent_at = "", 0.0
    try:
        while not feed.stop.is_set() and still_operator(request):
            data = _dumps(await snapshot(deps, feed))
            if data != last:
                await resp.write(f"event: state\ndata: {data}\n\n".encode())
                last, sent_at = data, time.monotonic()
            elif time.monotonic() - sent_at > KEEPALIVE_S:
                await resp.write(b": keepalive\n\n")
                sent_at = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(feed.stop.wait(), TICK_S)
    except (ConnectionResetError, ConnectionError):
        pass  # the watcher went away
    return resp


async def _end_streams(app: web.Application) -> None:
    app[FEED_KEY].stop.set()


def add_routes(app: web.Application) -> None:
    app[FEED_KEY] = Feed()
    app.on_shutdown.append(_end_streams)
    app.router.add_get("/api/state", get_state)
    app.router.add_get("/api/events", stream)

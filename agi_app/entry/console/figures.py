"""The Flows and Month pages' data: each flow drawn by graphviz from the same
model as `flows graph`, with its traffic; check-and-reload; the month's daily
volume with the month-start/month-end peak days and the fluctuation coefficient.
"""

from __future__ import annotations

import asyncio
import calendar
import json
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from agi_app.core.analytics.period import check_day
from agi_app.core.flows.graph import to_dot
from agi_app.core.shedding.rules import SheddingRules, calendar_holds
from agi_app.entry.console.api import guarded, no_fields, period
from agi_app.entry.console.deps import DEPS_KEY, ConsoleDeps
from agi_app.entry.console.guard import operator, refuse
from agi_app.service.operations import node_traffic
from agi_app.service.report import fetch_report, fluctuation

SVG_CACHE: dict[tuple[str, str], str] = {}  # (flow id, flow-set version) -> svg


async def _pool(deps: ConsoleDeps) -> Any:
    pool = await deps.get_pool()
    if pool is None:
        raise refuse(web.HTTPServiceUnavailable, "the database is not reachable")
    return pool


async def _svg(dot: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "dot",
        "-Tsvg",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(dot.encode()), 20)
    if proc.returncode != 0:
        raise refuse(web.HTTPInternalServerError, f"graphviz: {err.decode()[:300]}")
    return out.decode("utf-8", "replace")


async def list_flows(request: web.Request) -> web.Response:
    await operator(request)
    flows = request.app[DEPS_KEY].flows()
    return web.json_response(
        {
            "today": request.app[DEPS_KEY].now().date().isoformat(),
            "version": flows.version,
            "flows": [
                {"id": fid, "file": flows.files.get(fid, ""), "numbers": f.entry_numbers}
                for fid, f in sorted(flows.flows.items())
            ],
        }
    )


async def one_flow(request: web.Request) -> web.Response:
    await operator(request)
    deps = request.app[DEPS_KEY]
    flows = deps.flows()
    flow = flows.flows.get(request.match_info["flow"])
    if flow is None:
        raise refuse(web.HTTPNotFound, "no such flow")
    first, last = period(request, 6)
    key = (flow.id, flows.version)
    if key not in SVG_CACHE:
        SVG_CACHE[key] = await _svg(to_dot(flow))
    traffic: dict[str, dict[str, int]] = {}
    pool = await deps.get_pool()
    if pool is not None:  # the graph is drawn even while the database is away
        async with pool.acquire() as conn:
            traffic = await node_traffic(conn, flow.id, first, last, deps.timezone)
    nodes = {nid: node.model_dump(mode="json") for nid, node in flow.nodes.items()}
    return web.json_response(
        {
            "id": flow.id,
            "from": str(first),
            "to": str(last),
            "svg": SVG_CACHE[key],
            "traffic": traffic,
            "nodes": nodes,
            "start": flow.start,
        },
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


@guarded
async def reload_flows(request: web.Request, _who: str) -> Any:
    await no_fields(request)
    return await request.app[DEPS_KEY].reload()


def peak_days(rules: SheddingRules, first: date, last: date) -> list[str]:
    """Days a month-start or month-end rule of the shedding rules holds (at noon)."""
    tz = ZoneInfo(rules.timezone)
    peaks = []
    for day in range(first.day, last.day + 1):
        local = datetime.combine(first.replace(day=day), time(12), tz)
        for rule in rules.rules:
            c = rule.when.calendar
            if c is None or (c.first_days is None and c.last_days is None):
                continue
            if calendar_holds(c.model_copy(update={"hours": None}), local, None):
                peaks.append(local.date().isoformat())
                break
    return peaks


async def month(request: web.Request) -> web.Response:
    await operator(request)
    deps = request.app[DEPS_KEY]
    raw = request.query.get("month") or deps.now().strftime("%Y-%m")
    try:
        first = date.fromisoformat(f"{raw}-01")
    except ValueError:
        raise refuse(web.HTTPBadRequest, "month is YYYY-MM") from None
    try:
        check_day(first, "month")
    except ValueError as exc:
        raise refuse(web.HTTPBadRequest, str(exc)) from None
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    async with (await _pool(deps)).acquire() as conn:
        days = await fetch_report(conn, first, last, deps.timezone)
    return web.json_response(
        {
            "month": raw,
            "days": [d.as_dict() for d in days],
            "peaks": peak_days(deps.rules, first, last),
            "fluctuation": fluctuation(days),
            "calls": sum(d.calls for d in days),
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/flows", list_flows)
    app.router.add_get("/api/flows/{flow}", one_flow)
    app.router.add_post("/api/flows/reload", reload_flows)
    app.router.add_get("/api/month", month)

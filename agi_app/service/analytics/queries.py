"""The analytics rows of a period: each day computed once (SQL in ``sql``) or read
back from ``analytics_days``, the days left to compute spread over the
connections (one per core) and run at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agi_app.service.analytics.sql import (
    COUNT_SQL,
    FUNNEL_SQL,
    PATHS_SQL,
    REPEATS_SQL,
    STAFFING_SQL,
    VOLUME_SQL,
)

# Each report's SQL; the name is the key of its days in analytics_days, so it
# changes when the rows change shape (days kept in the old shape are recomputed).
REPORTS = {
    "funnel": ("funnel.2", FUNNEL_SQL),
    "calls": ("calls", COUNT_SQL),
    "paths": ("paths.2", PATHS_SQL),
    "repeats": ("repeats", REPEATS_SQL),
    "staffing": ("staffing.2", STAFFING_SQL),
    "volume": ("volume", VOLUME_SQL),
}
# Taken several days at a time (the SQL returns a ``day`` per row): repeats looks 7
# days past each day, and consecutive days share that look-ahead.
SPANS = {"repeats"}
# Steps in key order, merge-joined with their calls: the per-call window needs no
# sort (the planner cannot know how many steps the call-id range holds, guesses
# few and would probe the key once per call).
KEY_ORDER = {"funnel", "paths", "staffing"}


async def _fetch(conn: Any, name: str, *args: Any) -> list[dict[str, Any]]:
    async with conn.transaction():
        await conn.execute("SET LOCAL work_mem = '256MB'")  # a day's sorts and hashes in memory
        await conn.execute("SET LOCAL jit = off")  # compiling costs more than it saves here
        # One connection per core already: parallel workers would only share those cores.
        await conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        if name in KEY_ORDER:
            for plan in ("sort", "nestloop", "hashjoin"):
                await conn.execute(f"SET LOCAL enable_{plan} = off")
        return [dict(r) for r in await conn.fetch(REPORTS[name][1], *args)]


# A day's figures are kept once no journey of it can still arrive: calls end and
# the journey writer flushes within hours; repeats look 7 days past the day.
SETTLED = timedelta(hours=2)
LOOKS_AHEAD = {"repeats": timedelta(days=7)}
CACHE_READ = """
SELECT day, rows FROM analytics_days WHERE report = $1 AND tz = $2 AND day = ANY($3::date[])
"""
CACHE_WRITE = """
INSERT INTO analytics_days (report, tz, day, rows) VALUES ($1, $2, $3, $4::jsonb)
ON CONFLICT (report, tz, day) DO UPDATE SET rows = EXCLUDED.rows, computed_at = now()
"""


@dataclass(frozen=True)
class Period:
    """[start, end) at midnights of the hotline's zone ``tz``; with ``now`` the
    figures of settled days are read from and kept in ``analytics_days``."""

    start: datetime
    end: datetime
    tz: str
    now: datetime | None = None


Slice = tuple[int, datetime, datetime]  # (index of the day in the period, from, to)


def _pieces(days: list[tuple[int, datetime, datetime]], conns: int, span: bool) -> list[Slice]:
    """What the connections run: a day each (cut in parts when there are fewer days
    than connections), or for a spanning report runs of consecutive days, about
    as many as connections."""
    if not days:
        return []
    if not span:
        cut = max(1, conns // len(days))
        return [(i, a + (b - a) * k / cut, a + (b - a) * (k + 1) / cut)
                for i, a, b in days for k in range(cut)]  # fmt: skip
    runs: list[list[tuple[int, datetime, datetime]]] = [[days[0]]]
    for d in days[1:]:
        if d[1] == runs[-1][-1][2]:
            runs[-1].append(d)
        else:
            runs.append([d])
    while len(runs) < conns and max(len(r) for r in runs) > 1:
        longest = max(runs, key=len)
        runs.remove(longest)
        half = len(longest) // 2
        runs += [longest[:half], longest[half:]]
    return [(r[0][0], r[0][1], r[-1][2]) for r in runs]


async def _run(conns: Sequence[Any], name: str, period: Period, *args: Any) -> list[dict[str, Any]]:
    """Rows of report ``name`` over the period, for all flows. With ``period.now``
    the settled days' rows are read from (and kept in) ``analytics_days``."""
    key = REPORTS[name][0]
    days: list[tuple[int, datetime, datetime]] = []
    d = period.start
    while d < period.end:
        days.append((len(days), d, min(d + timedelta(days=1), period.end)))
        d = d + timedelta(days=1)
    dates = [a.date() for _, a, _ in days]
    kept: dict[int, list[dict[str, Any]]] = {}
    if period.now is not None:
        found = await conns[0].fetch(CACHE_READ, key, period.tz, dates)
        by_date = {r["day"]: json.loads(r["rows"]) for r in found}
        kept = {i: by_date[day] for i, day in enumerate(dates) if day in by_date}
    span = name in SPANS
    pieces = _pieces([x for x in days if x[0] not in kept], len(conns), span)
    results: dict[int, list[dict[str, Any]]] = {i: [] for i, *_ in days if i not in kept}

    async def worker(conn: Any) -> None:
        while pieces:
            i, a, b = pieces.pop(0)
            rows = await _fetch(conn, name, a, b, *args)
            if not span:
                results[i] += rows
                continue
            for r in rows:  # a spanning query names each row's day
                results[dates.index(r.pop("day"))].append(r)

    await asyncio.gather(*(worker(c) for c in conns))
    settle = SETTLED + LOOKS_AHEAD.get(name, timedelta())
    for i, rows in results.items():
        end = days[i][2]
        if period.now is not None and end + settle < period.now:
            await conns[0].execute(
                CACHE_WRITE, key, period.tz, dates[i], json.dumps(rows, default=float)
            )
    return [r for i in sorted(kept | results) for r in (kept | results)[i]]


def _of_flow(rows: list[dict[str, Any]], flow: str | None) -> list[dict[str, Any]]:
    return rows if flow is None else [r for r in rows if r["flow"] == flow]


async def funnel_rows(
    conns: Sequence[Any], period: Period, flow: str | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per (flow, node, dwell to 0.1 s) visits and counts, and per (flow, node,
    queue wait to 0.1 s) answered queue results (``wait_row``); and the calls per flow."""
    rows = _of_flow(await _run(conns, "funnel", period), flow)
    counts: dict[str, int] = {}
    for r in _of_flow(await _run(conns, "calls", period), flow):
        counts[r["flow"]] = counts.get(r["flow"], 0) + r["calls"]
    return rows, counts


async def path_rows(conns: Sequence[Any], period: Period, flow: str | None) -> list[dict[str, Any]]:
    """Per (flow, path, seconds to first service to 0.1 s, or None): calls; and per
    (flow, path, queue wait to 0.1 s) answered agent calls (``wait_row``)."""
    return _of_flow(await _run(conns, "paths", period), flow)


async def repeat_rows(
    conns: Sequence[Any], period: Period, flow: str | None
) -> list[dict[str, Any]]:
    """Per (flow, last node of the call): calls, and how many called again."""
    return _of_flow(await _run(conns, "repeats", period, period.tz), flow)


async def staffing_rows(
    conns: Sequence[Any], period: Period, flow: str | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per (queue, half-hour slot of the day): arrivals, answered, talk and wait
    seconds (and the estimate for journeys without the answer moment); and the
    period's calls, agent requests and answered ones."""
    rows = _of_flow(await _run(conns, "staffing", period, period.tz), flow)
    volume = {"calls": 0, "asked_agent": 0, "answered": 0}
    for r in _of_flow(await _run(conns, "volume", period), flow):
        for k in volume:
            volume[k] += r[k]
    return rows, volume

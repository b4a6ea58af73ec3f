"""PostgreSQL's CPU during a run, by who spent it: each of the app's pools (its
sessions' ``application_name``, adapters.postgres.pool.session_name), other
sessions, and PostgreSQL's own processes (WAL writer, checkpointer, autovacuum).
Every app run of the bench reports it per call (``RunFigures.pg_ms_per_call``):
the PostgreSQL part of the gap to native, by cause."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import asyncpg

from agi_app.tools.bench.procstat import TICK, ProcTimes

APP_PREFIX = "agi-app "
ENDED = "ended during the run (whole life)"


def role_of(application_name: str, backend_type: str) -> str:
    """``app: lookup`` for "agi-app ivr1 lookup"; ``other sessions`` for another
    client; else the process's type (``walwriter``, ``autovacuum worker``, ...)."""
    if application_name.startswith(APP_PREFIX):
        return "app: " + application_name.rsplit(" ", 1)[-1]
    if backend_type == "client backend":
        return "other sessions"
    return backend_type or "other"


async def session_roles(dsn: str) -> dict[int, str]:
    """pid -> role of every PostgreSQL process pg_stat_activity shows now."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch("SELECT pid, application_name, backend_type FROM pg_stat_activity")
    finally:
        await conn.close()
    return {
        int(r["pid"]): role_of(r["application_name"] or "", r["backend_type"] or "") for r in rows
    }


# The columns of the bench's PostgreSQL table, in order (``buckets``).
LOOKUP, MAIN, OWN, OTHER = "lookup pool", "main pool", "PostgreSQL's own", "other sessions"
BUCKETS = (LOOKUP, MAIN, OWN, OTHER)


def buckets(spent: Mapping[str, float]) -> dict[str, float]:
    """``cpu_by_role``'s roles in the bench's four columns: the app's two pools,
    other sessions, and the rest (WAL writer, checkpointer, autovacuum, the
    postmaster and the processes that ended) as PostgreSQL's own."""
    out: dict[str, float] = {}
    for role, value in spent.items():
        if role == "app: lookup":
            who = LOOKUP
        elif role.startswith("app: "):
            who = MAIN
        else:
            who = OTHER if role == "other sessions" else OWN
        out[who] = out.get(who, 0.0) + value
    return out


def cpu_by_role(
    before: Mapping[int, ProcTimes],
    after: Mapping[int, ProcTimes],
    postmaster: int,
    roles: Mapping[int, str],
) -> dict[str, float]:
    """CPU seconds of the postmaster's processes between two process tables, by
    role. A process that ended in between is counted from the postmaster's reaped
    time, with all its life; one that started in between, from zero."""
    ticks: Counter[str] = Counter()
    for pid, now in after.items():
        if now.ppid != postmaster:
            continue
        was = before.get(pid)
        start = was.own if was is not None and was.ppid == postmaster else 0
        ticks[roles.get(pid, "other")] += now.own - start
    first, last = before.get(postmaster), after.get(postmaster)
    if first is not None and last is not None:
        ticks["postmaster"] += last.own - first.own
        ticks[ENDED] += last.reaped - first.reaped
    return {role: n / TICK for role, n in ticks.items() if n > 0}

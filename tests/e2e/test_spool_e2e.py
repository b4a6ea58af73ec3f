"""Journeys survive PostgreSQL being away and the app being killed (issue 15).

The fault test counts what survived: PostgreSQL stopped, 2,000 calls at a
steady rate, the app killed with ``kill -9``, PostgreSQL started, the app
started: exactly 2,000 journeys with all their steps, none twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from agi_app.settings import Settings
from agi_app.tools.qa.runner import run_callers
from agi_app.tools.qa.scenario import build_caller, parse_keys
from agi_app.tools.stack import postgres
from tests.conftest import AppProcess, admin

CALLS = 2000
RATE = 80  # calls/s: 25 s of calls


async def wait_metrics(
    s: Settings, ready: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            _, body = await admin(s, "GET", "/admin/stats")
        except OSError:
            body = {}
        if body and ready(body):
            return body
        await asyncio.sleep(0.2)
    raise TimeoutError(f"metrics not ready within {timeout} s: {body}")


async def count_ended(s: Settings, callers: list[str], since: dt.datetime) -> int:
    conn = await asyncpg.connect(s.pg_dsn)
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM calls WHERE caller = ANY($1) AND started_at >= $2"
            " AND ended_at IS NOT NULL",
            callers,
            since,
        )
        return n
    finally:
        await conn.close()


@pytest.mark.timeout(240)
async def test_kill_9_while_postgres_is_down_loses_no_journey(
    app: AppProcess, stack: Settings, tmp_path: Path
) -> None:
    # One app on the stack at a time: the session's app steps aside (it would
    # answer these calls, and its figures would be read for the spool app's).
    app.stop()
    try:
        await _kill_9_run(stack, tmp_path)
    finally:
        app.start()


async def _kill_9_run(stack: Settings, tmp_path: Path) -> None:
    env = {"AGI_APP_JOURNEY_SPOOL_DIR": str(tmp_path / "spool")}
    log_path = stack.var_dir / "log" / "app-spool-test.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    app = AppProcess(stack, log_path)
    app.quiet_clock = True
    app.start(env)
    prefix = f"139{random.randrange(10**4):04d}"
    callers = [f"{prefix}{n:04d}" for n in range(CALLS)]
    since = dt.datetime.now(dt.UTC)
    scenario = build_caller(parse_keys("wait 1; 1"), tmp_path / "sc", expect_cause=16)
    postgres.stop(stack)
    try:
        result = await run_callers(
            scenario,
            service="100",
            callers=callers,
            calls=CALLS,
            rate=RATE,
            limit=400,
            timeout_s=120,
        )
        assert (result.successful, result.failed) == (CALLS, 0), result.output
        # Every call ended and every event is on disk: then the kill.
        before = await wait_metrics(
            stack, lambda m: m["active_calls"] == 0 and m["journeys_pending"] == 0, 30
        )
        assert before["journeys_spooling"] and before["journeys_written"] == 0
        assert app.proc is not None
        app.proc.kill()  # SIGKILL: no graceful stop
        app.proc.wait()
        assert list((tmp_path / "spool").glob("*.seg"))
    finally:
        postgres.start(stack)
    offset = app.log_path.stat().st_size
    app.start(env)
    try:
        after = await wait_metrics(stack, lambda m: not m["journeys_spooling"], 60)
        assert await count_ended(stack, callers, since) == CALLS
    finally:
        app.stop()
    assert after["journeys_replayed"] == before["journeys_spooled"]
    assert not list((tmp_path / "spool").glob("*.seg"))  # removed once written

    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        calls = await conn.fetch(
            "SELECT c.id, c.outcome, c.lookup, count(s.seq) AS steps, max(s.seq) AS last,"
            " string_agg(s.node, ' > ' ORDER BY s.seq) AS path"
            " FROM calls c LEFT JOIN call_steps s ON s.call_id = c.id"
            " WHERE c.caller = ANY($1) AND c.started_at >= $2 GROUP BY c.id, c.started_at",
            callers,
            since,
        )
    finally:
        await conn.close()
    assert len(calls) == CALLS
    assert {(c["outcome"], c["lookup"]) for c in calls} == {("completed", "lookup_failed")}
    paths = {c["path"] for c in calls}
    assert len(paths) == 1, paths  # every call has the same steps, none missing or twice
    assert all(c["steps"] == c["last"] >= 3 for c in calls)  # seq 1..n, no gap
    steps = sum(c["steps"] for c in calls)
    assert before["journeys_spooled"] == CALLS * 2 + steps  # CallStart + steps + CallEnd

    replay = re.findall(
        r"journey spool replayed: (\d+) events in ([\d.]+) s \((\d+) events/s\)",
        app.log_path.read_bytes()[offset:].decode(errors="replace"),
    )
    print(
        f"\n{CALLS} calls, {steps} steps, path {paths.pop()};"
        f" spool {before['journey_spool_bytes']} bytes; replay {replay}"
    )

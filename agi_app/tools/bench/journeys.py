"""Sustained journey writes into the partitioned tables: ``agi-app bench journeys``.

The real ``JourneyWriter`` (its batches, its deadline, a spool in a temporary
folder) writes generated calls (a start, ``steps`` steps, an end with the
usual facts, stamped now) into a scratch database made with the shipped
migrations, dropped afterwards. The generator keeps a few batches waiting, as
busy call tasks would, so the writer is never idle; after ``seconds`` it
stops and the writer's backlog is flushed, and that time counts too. Rows are
counted in the database, not by the writer. The day's partition starts empty
and without statistics, as a new day's does.

Next to it, what the 10086 line needs at its peak (``peak_need``): 1.3 M
calls on a quiet day, about 10 steps each, a month-end day 2.5 times a quiet
one, and the busiest hour carrying about 10 % of its day.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.adapters.postgres.migrate import migrate
from agi_app.adapters.postgres.partitions import ensure_partitions, list_partitions, utc_today
from agi_app.adapters.postgres.spool import Spool
from agi_app.core.journey import CallEnd, CallStart, CallStep

QUIET_DAY_CALLS = 1_300_000
STEPS_PER_CALL = 10
PEAK_DAY_FACTOR = 2.5
BUSIEST_HOUR_SHARE = 0.10

NODES = [("entry", "branch"), ("welcome", "play"), ("main", "dynamic_menu")]
NODES += [("balance", "transaction"), ("say_balance", "play"), ("after_service", "menu")]
NODES += [("agent", "branch"), ("to_support", "transfer"), ("to_support", "queue_result")]
NODES += [("bye", "hangup")]


@dataclass(frozen=True)
class PeakNeed:
    calls_per_s: float
    step_rows_per_s: float


def peak_need(
    quiet_day_calls: int = QUIET_DAY_CALLS,
    steps_per_call: int = STEPS_PER_CALL,
    peak_factor: float = PEAK_DAY_FACTOR,
    busiest_hour_share: float = BUSIEST_HOUR_SHARE,
) -> PeakNeed:
    """Calls and step rows per second in the busiest hour of the peak day."""
    calls = quiet_day_calls * peak_factor * busiest_hour_share / 3600
    return PeakNeed(calls, calls * steps_per_call)


@dataclass(frozen=True)
class JourneyBench:
    seconds: float  # generating
    elapsed_s: float  # generating, then flushing what was left
    calls: int  # rows in calls, ended
    steps: int  # rows in call_steps
    calls_per_s: float
    step_rows_per_s: float
    spooled: int  # events put on disk (the database slower than the deadline): not counted
    rejected: int
    batch: int
    partitions: int = 0  # of both tables, default ones included

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _call(n: int, run: str, steps: int) -> list[CallStart | CallStep | CallEnd]:
    start = datetime.now(UTC)
    call_id = f"{start.timestamp():.0f}.{run}{n}"  # as Asterisk: <epoch>.<n>
    events: list[CallStart | CallStep | CallEnd] = [
        CallStart(call_id, f"1380013{n % 10_000:04d}", "10086", "ari", start)
    ]
    for k in range(steps):
        node, kind = NODES[k % len(NODES)]
        detail = {"invalid": 0, "timeouts": 0} if "menu" in kind else {}
        at = start + timedelta(seconds=2 * k)
        events.append(CallStep(call_id, node, kind, at, "1" if "menu" in kind else "", detail))
    facts = {"flow": "mobile_10086", "grade": "standard", "lookup": "ok", "shedding_level": 0}
    end = start + timedelta(seconds=2 * steps)
    events.append(CallEnd(call_id, end, "completed", 16, facts))
    return events


async def _drive(writer: JourneyWriter, seconds: float, steps: int, batch: int) -> None:
    """Emit calls for ``seconds``, keeping about four batches waiting."""
    loop = asyncio.get_running_loop()
    run = uuid.uuid4().hex[:4]
    deadline = loop.time() + seconds
    n = 0
    while loop.time() < deadline:
        while writer.backlog < 4 * batch:
            n += 1
            for event in _call(n, run, steps):
                writer.emit(event)
        await asyncio.sleep(0.002)


async def bench_journeys(
    dsn: str, seconds: float, past_days: int, steps: int = STEPS_PER_CALL, batch: int = 500
) -> JourneyBench:
    """Run the writer against a scratch database (made and dropped here) holding
    ``past_days`` daily partitions before today, as a full retention does."""
    name = f"bench_journeys_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    scratch = dsn.rsplit("/", 1)[0] + "/" + name
    try:
        await migrate(scratch, Path(__file__).resolve().parents[3] / "migrations")
        pool = await asyncpg.create_pool(scratch, min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn:
                today = utc_today()
                await ensure_partitions(conn, [today - timedelta(days=k) for k in range(past_days)])
                partitions = len(await list_partitions(conn))
            result = await _measure(pool, seconds, steps, batch)
            return replace(result, partitions=partitions)
        finally:
            await pool.close()
    finally:
        try:
            await drop_scratch(admin, name)
        finally:
            await admin.close()


async def drop_scratch(admin: Any, name: str) -> None:
    """Drop the scratch database. An autovacuum worker on its new partitions is
    the server's, which FORCE may not end: it gives way within moments."""
    async with asyncio.timeout(30):
        while True:
            try:
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                await asyncio.sleep(0.2)


async def _measure(pool: Any, seconds: float, steps: int, batch: int) -> JourneyBench:
    async def get_pool() -> Any:
        return pool

    with tempfile.TemporaryDirectory(prefix="bench-spool-") as folder:
        writer = JourneyWriter(
            get_pool, batch=batch, spool=Spool(Path(folder), 1 << 30), deadline_s=2.0, node="bench"
        )
        task = asyncio.create_task(writer.run())
        began = time.perf_counter()
        try:
            await _drive(writer, seconds, steps, batch)
            await writer.flush(timeout=120)  # into the database, or the spool: not counted
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            writer.close()
        elapsed = time.perf_counter() - began
    async with pool.acquire() as conn:
        calls = int(await conn.fetchval("SELECT count(*) FROM calls WHERE ended_at IS NOT NULL"))
        step_rows = int(await conn.fetchval("SELECT count(*) FROM call_steps"))
    return JourneyBench(
        seconds=seconds,
        elapsed_s=round(elapsed, 2),
        calls=calls,
        steps=step_rows,
        calls_per_s=round(calls / elapsed, 1),
        step_rows_per_s=round(step_rows / elapsed, 1),
        spooled=writer.spooled,
        rejected=writer.rejected,
        batch=batch,
    )


def render(result: JourneyBench, need: PeakNeed, machine: str) -> str:
    headroom = result.step_rows_per_s / need.step_rows_per_s if need.step_rows_per_s else 0.0
    return "\n".join(
        [
            f"journey writes: JourneyWriter (batch {result.batch}) into the partitioned tables"
            f" ({result.partitions} partitions), {result.seconds:g} s of load + flush ="
            f" {result.elapsed_s} s ({machine})",
            f"  calls      {result.calls:>9}  {result.calls_per_s:>9.1f} calls/s",
            f"  step rows  {result.steps:>9}  {result.step_rows_per_s:>9.1f} rows/s",
            f"  spooled {result.spooled}, rejected {result.rejected}",
            f"10086 peak: {QUIET_DAY_CALLS / 1e6:g} M calls on a quiet day x {PEAK_DAY_FACTOR:g}"
            f" (month end) x {BUSIEST_HOUR_SHARE:.0%} in the busiest hour, ~{STEPS_PER_CALL}"
            f" steps a call = {need.calls_per_s:.1f} calls/s, {need.step_rows_per_s:.0f} step"
            " rows/s",
            f"headroom: x{headroom:.1f} the peak's step rows",
        ]
    )

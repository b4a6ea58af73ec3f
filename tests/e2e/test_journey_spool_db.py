"""Spool replay against the real PostgreSQL: its rate, and a replay run twice
(a crash after the writes, before the segments were removed) writes nothing twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.adapters.postgres.spool import Spool
from agi_app.core.journey import CallEnd, CallStart, CallStep
from agi_app.settings import Settings

CALLS = 20_000


async def no_pool() -> Any:
    return None


def spool_calls(folder: Path, ids: list[str]) -> int:
    """The journeys of ``ids`` in a spool, as a stop with the database away leaves it."""
    writer = JourneyWriter(no_pool, spool=Spool(folder, 10**9))
    now = dt.datetime.now(dt.UTC)
    for call_id in ids:
        writer.emit(CallStart(call_id, "13800000005", "100", "ari", now))
        for node in ("greeting", "announcement", "bye"):
            writer.emit(CallStep(call_id, node, "menu", now, "1", {"menu": node}))
        writer.emit(CallEnd(call_id, now, "completed", 16, {"grade": "standard"}))
    writer.close()
    return writer.spooled


async def replay(pool: Any, folder: Path) -> tuple[int, float]:
    async def get_pool() -> Any:
        return pool

    writer = JourneyWriter(get_pool, spool=Spool(folder, 10**9))
    t0 = time.monotonic()
    task = asyncio.create_task(writer.run())
    try:
        async with asyncio.timeout(90):
            while writer.spooling:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return writer.replayed, time.monotonic() - t0


async def test_replay_rate_and_a_second_replay_writes_nothing_twice(
    stack: Settings, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    ids = [f"sp-{run}-{n}" for n in range(CALLS)]
    events = spool_calls(tmp_path / "spool", ids)
    shutil.copytree(tmp_path / "spool", tmp_path / "again")  # the same segments, kept
    pool = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=2)
    try:
        replayed, took = await replay(pool, tmp_path / "spool")
        again, _ = await replay(pool, tmp_path / "again")
        async with pool.acquire() as conn:
            calls = await conn.fetchval(
                "SELECT count(*) FROM calls WHERE id = ANY($1) AND outcome = 'completed'", ids
            )
            steps = await conn.fetchval(
                "SELECT count(*) FROM call_steps WHERE call_id = ANY($1)", ids
            )
            await conn.execute("DELETE FROM call_steps WHERE call_id = ANY($1)", ids)
            await conn.execute("DELETE FROM calls WHERE id = ANY($1)", ids)
    finally:
        await pool.close()
    print(f"\nreplayed {replayed} events in {took:.2f} s: {replayed / took:.0f} events/s")
    assert replayed == again == events == CALLS * 5
    assert (calls, steps) == (CALLS, CALLS * 3)

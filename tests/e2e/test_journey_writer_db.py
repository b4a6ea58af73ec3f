"""The journey writer against the real PostgreSQL: a bad event is split out and
set aside, the rest of its batch is written, nothing is retried forever."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.core.journey import CallEnd, CallStart, CallStep
from agi_app.settings import Settings


async def test_a_bad_event_is_set_aside_and_its_batch_written(
    stack: Settings, tmp_path: Path
) -> None:
    pool = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=2)

    async def get_pool() -> Any:
        return pool

    rejected = tmp_path / "rejected.jsonl"
    writer = JourneyWriter(get_pool, batch=50, interval_s=0.05, rejected_path=rejected)
    task = asyncio.create_task(writer.run())
    now = dt.datetime.now(dt.UTC)
    ids = [f"jw-{uuid.uuid4().hex[:10]}" for _ in range(20)]
    for n, call_id in enumerate(ids):
        caller = "1380000\x00bad" if n == 3 else f"1380000{n:04d}"  # NUL: stripped, kept
        writer.emit(CallStart(call_id, caller, "10086", "ari", now))
        detail: dict[str, Any] = {"x": "nul\x00"} if n == 7 else {"ok": n}  # jsonb refuses
        writer.emit(CallStep(call_id, "main", "menu", now, "1", detail))
        writer.emit(CallEnd(call_id, now, "completed", 16, {"grade": "standard"}))
    try:
        async with asyncio.timeout(10):
            await writer.flush()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    try:
        async with pool.acquire() as conn:
            calls = await conn.fetch(
                "SELECT id, caller, outcome FROM calls WHERE id = ANY($1)", ids
            )
            steps = await conn.fetchval(
                "SELECT count(*) FROM call_steps WHERE call_id = ANY($1)", ids
            )
    finally:
        await pool.close()
    assert len(calls) == 20 and all(c["outcome"] == "completed" for c in calls)
    assert {c["caller"] for c in calls if c["id"] == ids[3]} == {"1380000bad"}
    assert steps == 19  # the \u0000 step alone is set aside
    assert writer.rejected == 1
    lines = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert [(r["event"], r["call_id"]) for r in lines] == [("CallStep", ids[7])]

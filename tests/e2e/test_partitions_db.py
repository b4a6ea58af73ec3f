"""Daily partitions of the journeys against the real PostgreSQL (migrations/0009):
existing rows moved over, replays written once, a row beyond the partitions
kept in the default one, the retention, two keepers at once, the node.

Each test has a scratch database of its own on the stack's cluster.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from agi_app.adapters.postgres.journey_queries import latest_journeys
from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.adapters.postgres.migrate import migrate
from agi_app.adapters.postgres.partitions import (
    drop_old_partitions,
    ensure_partitions,
    list_partitions,
    maintain,
    partition_name,
)
from agi_app.core.journey import CallEnd, CallStart, CallStep, JourneyEvent
from agi_app.entry.cli.journeys import journey_line
from agi_app.service.operations import NODE_TRAFFIC_SQL, node_traffic, quarter_hours, variants
from agi_app.service.report import fetch_report
from agi_app.settings import PROJECT_ROOT, Settings
from agi_app.tools.bench.journeys import drop_scratch

SHIPPED = PROJECT_ROOT / "migrations"
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


@pytest.fixture
async def scratch(stack: Settings) -> AsyncIterator[str]:
    """An empty scratch database's DSN (dropped afterwards)."""
    name = f"parts_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(stack.pg_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield stack.pg_dsn.rsplit("/", 1)[0] + "/" + name
        await drop_scratch(admin, name)
    finally:
        await admin.close()


@pytest.fixture
async def conn(scratch: str) -> AsyncIterator[Any]:
    """A connection to the scratch database with every migration applied."""
    await migrate(scratch, SHIPPED)
    c = await asyncpg.connect(scratch)
    yield c
    await c.close()


def journey(call_id: str, start: datetime, steps: int = 3) -> list[JourneyEvent]:
    events: list[JourneyEvent] = [CallStart(call_id, "13800138000", "10086", "ari", start)]
    for k in range(steps):
        events.append(CallStep(call_id, f"n{k}", "menu", start + timedelta(seconds=k), "1"))
    facts = {
        "caller_e164": "+8613800138000",
        "flow": "mobile_10086",
        "shedding_level": 1,
        "risk": 0.25,
        "risk_reasons": ["calls_24h", "abandoned_in_queue"],
    }
    events.append(CallEnd(call_id, start + timedelta(seconds=steps), "completed", 16, facts))
    return events


async def write(dsn: str, events: list[JourneyEvent], node: str | None = None) -> JourneyWriter:
    """Emit ``events`` to a real JourneyWriter and wait until they are written."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)

    async def get_pool() -> Any:
        return pool

    writer = JourneyWriter(get_pool, batch=50, interval_s=0.02, node=node)
    task = asyncio.create_task(writer.run())
    try:
        for e in events:
            writer.emit(e)
        await writer.flush(timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    return writer


async def where(conn: Any, table: str, key: str, value: str) -> list[str]:
    rows = await conn.fetch(
        f"SELECT tableoid::regclass::text AS p FROM {table} WHERE {key} = $1", value
    )
    return sorted(r["p"] for r in rows)


async def test_migration_moves_existing_rows_into_day_partitions(
    scratch: str, tmp_path: Path
) -> None:
    old = tmp_path / "before"
    old.mkdir()
    for f in sorted(SHIPPED.glob("*.sql")):
        if f.name < "0009":
            shutil.copy(f, old / f.name)
    await migrate(scratch, old)
    conn = await asyncpg.connect(scratch)
    try:
        past = NOW - timedelta(days=40)
        for call_id, start in (("today", NOW), ("past", past)):
            await conn.execute(
                "INSERT INTO calls (id, caller_e164, started_at, outcome) VALUES ($1, $2, $3, 'completed')",  # noqa: E501
                call_id, "+8613800138000", start,
            )  # fmt: skip
            for seq in (1, 2):
                await conn.execute(
                    "INSERT INTO call_steps (call_id, seq, node, node_type, at) VALUES ($1, $2, 'main', 'menu', $3)",  # noqa: E501
                    call_id, seq, start + timedelta(seconds=seq),
                )  # fmt: skip
        # A step whose call row is missing keeps its own time as the key.
        lone_at = NOW - timedelta(days=3)
        await conn.execute(
            "INSERT INTO call_steps (call_id, seq, node, node_type, at) VALUES ('lone', 1, 'x', 'play', $1)",  # noqa: E501
            lone_at,
        )

        applied = await migrate(scratch, SHIPPED)  # 0009 and whatever came after it
        assert applied[0] == "0009_partitions.sql"

        assert await where(conn, "calls", "id", "past") == [partition_name("calls", past.date())]
        assert (
            await where(conn, "call_steps", "call_id", "past")
            == [partition_name("call_steps", past.date())] * 2
        )
        assert await where(conn, "calls", "id", "today") == [partition_name("calls", TODAY)]
        steps = await conn.fetch(
            "SELECT call_id, seq, started_at, at FROM call_steps ORDER BY 1, 2"
        )
        assert [(s["call_id"], s["seq"]) for s in steps] == [
            ("lone", 1), ("past", 1), ("past", 2), ("today", 1), ("today", 2),
        ]  # fmt: skip
        starts = {"past": past, "today": NOW, "lone": lone_at}
        assert all(s["started_at"] == starts[s["call_id"]] for s in steps)
        assert await conn.fetchval("SELECT count(*) FROM calls WHERE node IS NULL") == 2
        # The indexes the lookups and reports use, on the partitioned tables.
        indexes = {
            r["indexname"]
            for r in await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename IN ('calls', 'call_steps')"
            )
        }
        assert {"calls_pkey", "calls_started_at", "calls_caller_e164", "call_steps_pkey"} <= indexes
        # Ready ahead: yesterday to a week from today.
        names = {p.name for p in await list_partitions(conn)}
        for k in range(-1, 8):
            assert partition_name("calls", TODAY + timedelta(days=k)) in names
        assert {"calls_default", "call_steps_default"} <= names
    finally:
        await conn.close()


async def test_a_replayed_journey_is_written_once(scratch: str, conn: Any) -> None:
    ids = [f"{NOW.timestamp():.0f}.{n}" for n in range(3)]
    events = [e for call_id in ids for e in journey(call_id, NOW)]
    await write(scratch, events)
    # The same events again (the spool replayed after a crash: same keys).
    replay = [e for call_id in ids for e in journey(call_id, NOW)]
    await write(scratch, replay)
    assert await conn.fetchval("SELECT count(*) FROM calls WHERE id = ANY($1)", ids) == 3
    assert await conn.fetchval("SELECT count(*) FROM call_steps WHERE call_id = ANY($1)", ids) == 9
    # A call adopted after a crash: a new start later, steps numbered from 1 again.
    adopted = journey(ids[0], NOW + timedelta(seconds=30), steps=4)
    await write(scratch, adopted)
    rows = await conn.fetch("SELECT * FROM calls WHERE id = $1", ids[0])
    assert [r["started_at"] for r in rows] == [NOW]  # the first start stays
    assert rows[0]["ended_at"] == NOW + timedelta(seconds=34)  # the new process ended it
    assert (rows[0]["outcome"], rows[0]["shedding_level"], rows[0]["flow"]) == (
        "completed",
        1,
        "mobile_10086",
    )
    assert rows[0]["risk_reasons"] == ["calls_24h", "abandoned_in_queue"]
    # An end that knows less leaves what is known (risk reasons and all).
    await write(scratch, [CallEnd(ids[1], NOW + timedelta(seconds=60), "completed", 16, {})])
    row = await conn.fetchrow("SELECT risk_reasons, ended_at FROM calls WHERE id = $1", ids[1])
    assert row["ended_at"] == NOW + timedelta(seconds=60)
    assert row["risk_reasons"] == ["calls_24h", "abandoned_in_queue"]
    steps = await conn.fetch(
        "SELECT seq, node, started_at FROM call_steps WHERE call_id = $1 ORDER BY seq", ids[0]
    )
    assert [(s["seq"], s["node"]) for s in steps] == [(1, "n0"), (2, "n1"), (3, "n2"), (4, "n3")]
    assert {s["started_at"] for s in steps} == {NOW}  # all under the call's key


async def test_a_row_beyond_the_partitions_lands_in_the_default_one(
    scratch: str, conn: Any
) -> None:
    later = NOW + timedelta(days=40)
    call_id = f"{later.timestamp():.0f}.1"
    await write(scratch, journey(call_id, later))
    assert await where(conn, "calls", "id", call_id) == ["calls_default"]
    assert await where(conn, "call_steps", "call_id", call_id) == ["call_steps_default"] * 3
    assert await conn.fetchval("SELECT outcome FROM calls WHERE id = $1", call_id) == "completed"
    # When its day's partition is made, the rows move into it.
    assert await ensure_partitions(conn, [later.date()]) == [
        partition_name("calls", later.date()),
        partition_name("call_steps", later.date()),
    ]
    assert await where(conn, "calls", "id", call_id) == [partition_name("calls", later.date())]
    assert await conn.fetchval("SELECT count(*) FROM call_steps_default") == 0
    assert await conn.fetchval("SELECT count(*) FROM call_steps WHERE call_id = $1", call_id) == 3


async def test_retention_drops_only_the_old_partitions(scratch: str, conn: Any) -> None:
    days = {k: TODAY - timedelta(days=k) for k in (500, 401, 400, 399)}
    await ensure_partitions(conn, days.values())
    await write(
        scratch,
        [e for k, d in days.items() for e in journey(f"old-{k}", datetime.combine(d, NOW.time(), UTC))],  # noqa: E501
    )  # fmt: skip
    assert await drop_old_partitions(conn, TODAY, 0) == []  # 0: keep forever
    dropped = await drop_old_partitions(conn, TODAY, 400)
    assert sorted(dropped) == sorted(
        partition_name(t, days[k]) for t in ("calls", "call_steps") for k in (500, 401)
    )
    left = await conn.fetch("SELECT id FROM calls ORDER BY id")
    assert [r["id"] for r in left] == ["old-399", "old-400"]
    assert await conn.fetchval("SELECT count(*) FROM call_steps") == 6
    assert await drop_old_partitions(conn, TODAY, 400) == []  # nothing more to drop


async def test_two_keepers_at_once_take_turns(scratch: str, conn: Any) -> None:
    ahead = TODAY + timedelta(days=100)  # as if the nodes woke 100 days on: all new
    await ensure_partitions(conn, [TODAY - timedelta(days=500)])
    other = await asyncpg.connect(scratch)
    try:
        first, second = await asyncio.gather(
            maintain(conn, ahead, 7, 400), maintain(other, ahead, 7, 400)
        )
    finally:
        await other.close()
    created = first.created + second.created
    assert sorted(created) == sorted(
        partition_name(t, ahead + timedelta(days=k)) for t in ("calls", "call_steps") for k in range(-1, 8)  # noqa: E501
    )  # fmt: skip
    dropped = first.dropped + second.dropped
    old = TODAY - timedelta(days=500)
    assert sorted(dropped) == sorted(partition_name(t, old) for t in ("call_steps", "calls"))


async def test_the_node_is_recorded_shown_and_filters_the_report(scratch: str, conn: Any) -> None:
    call_id = f"{NOW.timestamp():.0f}.77"
    await write(scratch, journey(call_id, NOW), node="ivr-b")
    (latest,) = await latest_journeys(conn, 5)
    assert latest["id"] == call_id and latest["node"] == "ivr-b"
    assert [s["node"] for s in latest["steps"]] == ["n0", "n1", "n2"]
    assert " ivr-b " in journey_line(latest)
    tz = "UTC"
    (mine,) = await fetch_report(conn, TODAY, TODAY, tz, node="ivr-b")
    (other,) = await fetch_report(conn, TODAY, TODAY, tz, node="ivr-a")
    (every,) = await fetch_report(conn, TODAY, TODAY, tz)
    assert (mine.calls, other.calls, every.calls) == (1, 0, 1)


async def test_the_console_figures_read_the_partitions(scratch: str, conn: Any) -> None:
    call_id = f"{NOW.timestamp():.0f}.88"
    events = journey(call_id, NOW)
    end = events[-1]
    assert isinstance(end, CallEnd)
    end.facts["ab_variant"] = "A:mobile_10086"
    await write(scratch, events)
    traffic = await node_traffic(conn, "mobile_10086", TODAY, TODAY, "UTC")
    assert traffic == {f"n{k}": {"visits": 1, "hangups": 0, "agent_requests": 0} for k in range(3)}
    (variant,) = await variants(conn, TODAY, TODAY, "UTC")
    assert (variant["variant"], variant["calls"], variant["timed_calls"]) == (
        "A:mobile_10086",
        1,
        1,
    )
    slots = await quarter_hours(conn, TODAY, "UTC")
    assert sum(slots["today"]) == 1


async def test_node_traffic_counts_hangups_at_each_calls_last_step_in_one_pass(
    scratch: str, conn: Any
) -> None:
    """Visits, agent requests, and abandoned calls by the node they ended at,
    read in one pass over the steps (no per-node re-read: it took minutes at
    half a million calls a week)."""
    events: list[JourneyEvent] = []
    ends = {"menu-quit": ("n1", "abandoned"), "queue-quit": ("agent", "abandoned")}
    ends["served"] = ("agent", "transferred")
    for n, (name, (last, outcome)) in enumerate(ends.items()):
        call_id = f"{NOW.timestamp():.0f}.9{n}"
        start = NOW + timedelta(seconds=n)
        events.append(CallStart(call_id, "13800138000", "10086", "ari", start))
        nodes = [("n0", "menu"), ("n1", "menu")] + (
            [("agent", "transfer")] if last == "agent" else []
        )
        for k, (node, kind) in enumerate(nodes):
            events.append(CallStep(call_id, node, kind, start + timedelta(seconds=k), name))
        facts = {"flow": "traffic_flow", "caller_e164": "+8613800138000"}
        events.append(CallEnd(call_id, start + timedelta(seconds=5), outcome, 16, facts))
    await write(scratch, events)
    traffic = await node_traffic(conn, "traffic_flow", TODAY, TODAY, "UTC")
    assert traffic == {
        "n0": {"visits": 3, "hangups": 0, "agent_requests": 0},
        "n1": {"visits": 3, "hangups": 1, "agent_requests": 0},
        "agent": {"visits": 2, "hangups": 1, "agent_requests": 2},
    }
    plan = "\n".join(
        r[0] for r in await conn.fetch("EXPLAIN " + NODE_TRAFFIC_SQL, "f", TODAY, TODAY, "UTC")
    )
    assert "SubPlan" not in plan

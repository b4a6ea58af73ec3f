"""The journey writer against a fake pool at the asyncpg edge: outages keep the
events, a failed batch is retried whole, ``flush`` waits, the buffer is bounded.

The fake pool has what the writer uses of asyncpg: ``acquire()`` as an async
context manager giving a connection with ``transaction()``, ``fetch()``,
``executemany()`` and ``execute()``.
Rows reach ``committed`` only when their transaction ends without an error, as
in PostgreSQL, so a batch that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.core.journey import CallEnd, CallStart, CallStep

NOW = dt.datetime(2030, 1, 15, 2, 0, tzinfo=dt.UTC)


def _table(sql: str) -> str:
    return "ends" if sql.startswith("UPDATE calls") else sql.split()[2]  # INSERT INTO <table>


class FakeConnection:
    def __init__(self, pool: FakePool) -> None:
        self.pool = pool
        self.pending: list[tuple[str, tuple[Any, ...]]] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.pending = []
        yield  # an exception inside rolls back: nothing pending is kept
        self.pool.committed.extend(self.pending)
        self.pool.commits += 1

    async def fetch(self, sql: str, ids: list[str], *_bounds: Any) -> list[dict[str, Any]]:
        """The calls already there (the writer's one query a batch; not counted)."""
        return [
            {"id": row[0], "started_at": row[4]}
            for table, row in self.pool.committed
            if table == "calls" and row[0] in ids
        ]

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await self._statement()
        self.pending.extend((_table(sql), row) for row in rows)

    async def execute(self, sql: str, *args: Any) -> None:
        """The ends' UPDATE: one array per column (a SET of the transaction: nothing)."""
        if sql.startswith("SET "):
            return
        await self._statement()
        self.pending.extend((_table(sql), row) for row in zip(*args, strict=True))

    async def _statement(self) -> None:
        self.pool.statements += 1
        if self.pool.gate is not None:
            self.pool.blocked.set()
            await self.pool.gate.wait()
        failure = self.pool.fail_at.pop(self.pool.statements, None)
        if failure is not None:
            raise failure


class FakePool:
    def __init__(self) -> None:
        self.committed: list[tuple[str, tuple[Any, ...]]] = []
        self.commits = 0
        self.statements = 0
        self.fail_at: dict[int, Exception] = {}  # statement number (from 1) -> its error
        self.gate: asyncio.Event | None = None  # set: executemany waits for it
        self.blocked = asyncio.Event()  # a statement is waiting at the gate

    @asynccontextmanager
    async def acquire(self, timeout: float | None = None) -> AsyncIterator[FakeConnection]:
        yield FakeConnection(self)

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        return [row for t, row in self.committed if t == table]

    def call_ids(self) -> list[str]:
        return [row[0] for row in self.rows("calls")]


class Database:
    """The pool getter: the pool, None (PostgreSQL down), or an error while connecting."""

    def __init__(self, pool: FakePool) -> None:
        self.pool = pool
        self.down: Exception | None = None  # raised by the getter
        self.absent = False  # the getter answers None
        self.asked = 0

    async def get(self) -> FakePool | None:
        self.asked += 1
        if self.down is not None:
            raise self.down
        return None if self.absent else self.pool


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    """Wait until ``condition()`` holds (a short poll within a deadline)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@asynccontextmanager
async def running(writer: JourneyWriter) -> AsyncIterator[None]:
    task = asyncio.create_task(writer.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def emit_call(writer: JourneyWriter, call_id: str, digits: str = "1") -> None:
    writer.emit(CallStart(call_id, "13800138000", "10086", "ari", NOW))
    writer.emit(CallStep(call_id, "entry", "play", NOW))
    writer.emit(CallStep(call_id, "main", "menu", NOW, digits))
    writer.emit(CallEnd(call_id, NOW, "completed", 16, {"grade": "gold", "shedding_level": 2}))


@pytest.fixture
def pool() -> FakePool:
    return FakePool()


@pytest.fixture
def db(pool: FakePool) -> Database:
    return Database(pool)


def make_writer(db: Database, **kwargs: Any) -> JourneyWriter:
    getter: Callable[[], Awaitable[Any]] = db.get
    return JourneyWriter(getter, interval_s=0.01, **kwargs)


async def test_events_are_written_as_rows(pool: FakePool, db: Database) -> None:
    writer = make_writer(db)
    async with running(writer):
        emit_call(writer, "c1", digits="7")
        await writer.flush(timeout=5)
    assert pool.call_ids() == ["c1"]
    steps = pool.rows("call_steps")
    assert [(s[0], s[1], s[2], s[4]) for s in steps] == [
        ("c1", 1, "entry", ""),
        ("c1", 2, "main", "7"),
    ]
    assert json.loads(steps[0][5]) == {}  # the sequence number is a column, not detail
    (end,) = pool.rows("ends")
    assert end[:4] == ("c1", NOW, "completed", 16)
    assert end[4 + 3] == "gold" and end[4 + 5] == 2  # grade as text, shedding_level as int
    assert writer.written == 4 and writer.dropped == 0 and writer.rejected == 0


async def test_the_node_that_served_the_call_is_in_its_row(pool: FakePool, db: Database) -> None:
    writer = make_writer(db, node="node-b")
    async with running(writer):
        emit_call(writer, "c1")
        await writer.flush(timeout=5)
    (call,) = pool.rows("calls")
    assert call == ("c1", "13800138000", "10086", "ari", NOW, "node-b")


@pytest.mark.parametrize(
    "outage",
    ["none", ConnectionError("refused"), OSError("network unreachable")],
    ids=["getter-none", "getter-connection-error", "getter-os-error"],
)
async def test_an_outage_keeps_the_events_and_writes_them_in_order_after(
    pool: FakePool, db: Database, outage: str | Exception
) -> None:
    if isinstance(outage, Exception):
        db.down = outage
    else:
        db.absent = True
    writer = make_writer(db, batch=4)
    async with running(writer):
        for n in range(5):
            emit_call(writer, f"c{n}")
        await until(lambda: db.asked >= 3)  # the writer tried, and tried again
        assert pool.committed == [] and writer.written == 0
        with pytest.raises(TimeoutError):
            await writer.flush(timeout=0.05)  # nothing can be written: flush does not lie
        db.down, db.absent = None, False  # PostgreSQL is back
        await writer.flush(timeout=10)
    assert pool.call_ids() == [f"c{n}" for n in range(5)]
    assert [(s[0], s[1]) for s in pool.rows("call_steps")] == [
        (f"c{n}", seq) for n in range(5) for seq in (1, 2)
    ]
    assert [e[0] for e in pool.rows("ends")] == [f"c{n}" for n in range(5)]
    assert writer.written == 20 and writer.dropped == 0 and writer.rejected == 0


@pytest.mark.parametrize(
    "failure",
    [
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("pool is closing"),
        ConnectionResetError("reset by peer"),
        TimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_transient_failure_mid_batch_retries_the_whole_batch(
    pool: FakePool, db: Database, failure: Exception
) -> None:
    # The calls insert goes in, then the steps insert fails: the transaction is
    # rolled back, and the retry writes the batch once, in order.
    pool.fail_at = {2: failure}
    writer = make_writer(db, batch=100)
    for n in range(3):
        emit_call(writer, f"c{n}")
    async with running(writer):
        await writer.flush(timeout=10)
    assert pool.statements == 2 + 3  # the failed try, then all three statements
    assert pool.commits == 1  # the failed transaction left nothing
    assert pool.call_ids() == ["c0", "c1", "c2"]
    assert [(s[0], s[1]) for s in pool.rows("call_steps")] == [
        (f"c{n}", seq) for n in range(3) for seq in (1, 2)
    ]
    assert [e[0] for e in pool.rows("ends")] == ["c0", "c1", "c2"]
    assert writer.written == 12 and writer.rejected == 0


async def test_a_failure_in_a_later_batch_keeps_the_earlier_batches(
    pool: FakePool, db: Database
) -> None:
    writer = make_writer(db, batch=4)  # one call per batch: 3 statements each
    pool.fail_at = {3 * 2 + 1: ConnectionResetError("reset")}  # batch 3, its first statement
    for n in range(4):
        emit_call(writer, f"c{n}")
    async with running(writer):
        await writer.flush(timeout=10)
    assert pool.commits == 4
    assert pool.call_ids() == ["c0", "c1", "c2", "c3"]  # no batch twice, none lost
    assert writer.written == 16


async def test_flush_waits_until_the_batch_in_flight_is_written(
    pool: FakePool, db: Database
) -> None:
    pool.gate = asyncio.Event()
    writer = make_writer(db)
    async with running(writer):
        emit_call(writer, "c1")
        flushing = asyncio.create_task(writer.flush(timeout=10))
        async with asyncio.timeout(5):
            await pool.blocked.wait()  # the writer is inside its first statement
        assert not flushing.done() and pool.committed == []
        pool.gate.set()
        async with asyncio.timeout(5):
            await flushing
        assert pool.call_ids() == ["c1"] and writer.written == 4
        emit_call(writer, "c2")  # flush again after more events: waits for those too
        await writer.flush(timeout=5)
    assert pool.call_ids() == ["c1", "c2"]


async def test_flush_with_nothing_emitted_returns_at_once(db: Database) -> None:
    writer = make_writer(db)
    await writer.flush(timeout=0.5)  # no writer task needed: the buffer is empty


async def test_the_buffer_cap_drops_the_oldest_and_counts_them(
    pool: FakePool, db: Database
) -> None:
    writer = make_writer(db, max_buffer=3)
    for n in range(5):  # PostgreSQL is down: no writer task runs yet
        writer.emit(CallStart(f"c{n}", "13800138000", "10086", "ari", NOW))
    assert writer.dropped == 2
    async with running(writer):
        await writer.flush(timeout=5)
    assert pool.call_ids() == ["c2", "c3", "c4"]  # the newest kept, in order
    assert writer.written == 3 and writer.dropped == 2


async def test_the_buffer_cap_holds_during_an_outage(pool: FakePool, db: Database) -> None:
    db.absent = True
    writer = make_writer(db, max_buffer=8, batch=4)
    async with running(writer):
        for n in range(5):
            emit_call(writer, f"c{n}")  # 20 events into 8 places
        await until(lambda: db.asked >= 1)
        assert writer.dropped == 12
        db.absent = False
        await writer.flush(timeout=10)
    assert pool.call_ids() == ["c3", "c4"]  # the two newest calls, whole
    assert writer.written == 8 and writer.dropped == 12

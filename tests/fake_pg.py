"""A stand-in for asyncpg's pool at its edge (acquire, transaction, fetch, execute(many)),
keeping rows the way the journey tables do: ``calls`` keyed by id,
``call_steps`` by (call_id, seq), ON CONFLICT DO NOTHING, the end an UPDATE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class FakeConnection:
    def __init__(self, pool: FakePool) -> None:
        self.pool = pool
        self.staged: list[tuple[str, list[tuple[Any, ...]]]] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.staged = []
        yield
        for sql, rows in self.staged:  # commit: nothing happened unless we get here
            self.pool.apply(sql, rows)
        self.pool.commits += 1

    async def fetch(self, sql: str, ids: list[str], *_bounds: Any) -> list[dict[str, Any]]:
        """The calls already there: the writer's one query a batch."""
        calls = self.pool.calls
        return [{"id": i, "started_at": calls[i]["started_at"]} for i in ids if i in calls]

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if self.pool.hold is not None:  # a slow database
            self.pool.held += 1
            await self.pool.hold.wait()
        self.staged.append((sql, list(rows)))

    async def execute(self, sql: str, *args: Any) -> None:
        """The ends' UPDATE: one array per column (a SET of the transaction: nothing)."""
        if sql.startswith("SET "):
            return
        await self.executemany(sql, list(zip(*args, strict=True)))


class FakePool:
    def __init__(self, *, up: bool = True, fail_after: int | None = None) -> None:
        self.up = up
        self.fail_after = fail_after  # commits before the database "goes away"
        self.commits = 0
        self.failures = 0
        self.calls: dict[str, dict[str, Any]] = {}
        self.steps: dict[tuple[str, int], tuple[Any, ...]] = {}
        self.ignored = 0  # inserts that hit an existing key
        self.hold: asyncio.Event | None = None
        self.held = 0  # statements that waited on ``hold``

    @asynccontextmanager
    async def acquire(self, timeout: float | None = None) -> AsyncIterator[FakeConnection]:
        if not self.up or (self.fail_after is not None and self.commits >= self.fail_after):
            self.failures += 1
            raise ConnectionRefusedError("fake database away")
        yield FakeConnection(self)

    def apply(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        for row in rows:
            if sql.startswith("INSERT INTO calls "):
                if row[0] in self.calls:
                    self.ignored += 1
                self.calls.setdefault(
                    row[0], {"caller": row[1], "outcome": None, "started_at": row[4]}
                )
            elif sql.startswith("INSERT INTO call_steps "):
                if (row[0], row[1]) in self.steps:
                    self.ignored += 1
                self.steps.setdefault((row[0], row[1]), row)
            elif sql.startswith("UPDATE calls ") and row[0] in self.calls:
                self.calls[row[0]]["outcome"] = row[2]

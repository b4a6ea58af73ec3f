"""Writes call journeys to PostgreSQL off the per-call hot path.

Call tasks only append events to an in-memory buffer (``emit`` never blocks and
never raises). A background task writes them in batches. When PostgreSQL is
down the events stay buffered (up to ``max_buffer``) and are written once it
is back, so a database outage loses no journey that fits in memory.

A batch that fails for a reason that retrying cannot cure (a row PostgreSQL
refuses, a value that does not convert) is split in halves until the bad
events stand alone; those are logged, appended to ``rejected_path`` and set
aside, and the rest is written. Inserts are idempotent, so rewriting the part
of a batch that had already gone in is harmless.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from agi_app.core.journey import CallEnd, CallStart, CallStep, JourneyEvent

log = logging.getLogger(__name__)

PoolGetter = Callable[[], Awaitable[Any]]

END_FIELDS = (
    "flow",
    "flow_version",
    "caller_e164",
    "grade",
    "lookup",
    "shedding_level",
    "shedding_rule",
    "queue",
    "queue_status",
    "agent",
    "announcement",
    "ab_variant",
)


class JourneyWriter:
    """Batches journey events into ``calls`` and ``call_steps``."""

    def __init__(
        self,
        get_pool: PoolGetter,
        *,
        max_buffer: int = 200_000,
        batch: int = 500,
        interval_s: float = 0.2,
        rejected_path: Path | None = None,
    ) -> None:
        self._get_pool = get_pool
        self._buffer: deque[JourneyEvent] = deque()
        self._max = max_buffer
        self._batch = batch
        self._interval = interval_s
        self._seq: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._rejected_path = rejected_path
        self.dropped = 0
        self.written = 0
        self.rejected = 0

    @property
    def backlog(self) -> int:
        """Events emitted and not yet written."""
        return len(self._buffer)

    def emit(self, event: JourneyEvent) -> None:
        if isinstance(event, CallStep):
            seq = self._seq.get(event.call_id, 0) + 1
            self._seq[event.call_id] = seq
            event.detail = {**event.detail, "_seq": seq}
        elif isinstance(event, CallEnd):
            self._seq.pop(event.call_id, None)
        if len(self._buffer) >= self._max:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(event)
        self._idle.clear()
        if len(self._buffer) >= self._batch:
            self._wake.set()

    async def flush(self, timeout: float = 10) -> None:
        """Wait until everything emitted so far is written."""
        self._wake.set()
        async with asyncio.timeout(timeout):
            while self._buffer:
                self._idle.clear()
                await self._idle.wait()

    async def run(self) -> None:
        """The writer loop; cancel it to stop (call ``flush`` first)."""
        backoff = self._interval
        while True:
            try:
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            while self._buffer:
                batch = [self._buffer[i] for i in range(min(self._batch, len(self._buffer)))]
                try:
                    await self._write_isolating(batch)
                except Exception as exc:  # transient (see is_transient): keep the events
                    log.warning("journey write failed (%r); %d events kept", exc, len(self._buffer))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    break
                for _ in batch:
                    self._buffer.popleft()
                self.written += len(batch)
                backoff = self._interval
            if not self._buffer:
                self._idle.set()

    async def _write_isolating(self, batch: list[JourneyEvent]) -> None:
        """Write ``batch``; on a non-transient failure, halve it until the bad events
        stand alone and set those aside. A transient failure propagates."""
        try:
            await self._write(batch)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(batch) == 1:
                self._set_aside(batch[0], exc)
                return
            mid = len(batch) // 2
            await self._write_isolating(batch[:mid])
            await self._write_isolating(batch[mid:])

    def _set_aside(self, event: JourneyEvent, exc: Exception) -> None:
        self.rejected += 1
        record = {"event": type(event).__name__, **dataclasses.asdict(event), "error": repr(exc)}
        line = json.dumps(record, default=str, ensure_ascii=False)
        log.error("journey event refused by the database, set aside: %s", line[:2000])
        if self._rejected_path is not None:
            try:
                self._rejected_path.parent.mkdir(parents=True, exist_ok=True)
                with self._rejected_path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
            except OSError as err:
                log.error("could not write %s: %s", self._rejected_path, err)

    async def _write(self, batch: list[JourneyEvent]) -> None:
        pool = await self._get_pool()
        if pool is None:
            raise ConnectionError("no database pool")
        starts = [e for e in batch if isinstance(e, CallStart)]
        steps = [e for e in batch if isinstance(e, CallStep)]
        ends = [e for e in batch if isinstance(e, CallEnd)]
        async with pool.acquire(timeout=5) as conn, conn.transaction():
            if starts:
                await conn.executemany(
                    "INSERT INTO calls (id, caller, called, via, started_at)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                    [
                        (e.call_id, _text(e.caller, 200), _text(e.called, 80), e.via, e.started_at)
                        for e in starts
                    ],
                )
            if steps:
                await conn.executemany(
                    "INSERT INTO call_steps (call_id, seq, node, node_type, digits, detail, at)"
                    " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT DO NOTHING",
                    [_step_row(e) for e in steps],
                )
            if ends:
                await conn.executemany(_END_SQL, [_end_row(e) for e in ends])


def _text(value: str, limit: int) -> str:
    """Bounded text PostgreSQL accepts (it refuses NUL; callers can send one)."""
    return value.replace("\x00", "")[:limit]


def _step_row(e: CallStep) -> tuple[Any, ...]:
    detail = dict(e.detail)
    seq = detail.pop("_seq", 0)
    return (
        e.call_id,
        seq,
        _text(e.node, 200),
        _text(e.node_type, 40),
        _text(e.digits, 64),
        json.dumps(detail, default=str, ensure_ascii=False),
        e.at,
    )


_END_SQL = (
    "UPDATE calls SET ended_at = $2, outcome = $3, hangup_cause = $4, "
    + ", ".join(f"{f} = COALESCE(${i}, {f})" for i, f in enumerate(END_FIELDS, 5))
    + " WHERE id = $1"
)


def _end_row(e: CallEnd) -> tuple[Any, ...]:
    facts = e.facts
    values: list[Any] = []
    for field in END_FIELDS:
        v = facts.get(field)
        values.append(
            None if v is None else (int(v) if field == "shedding_level" else _text(str(v), 200))
        )
    return (e.call_id, e.ended_at, e.outcome, e.hangup_cause, *values)


# SQLSTATE classes worth retrying: connection (08), insufficient resources (53),
# operator intervention such as a restart (57), system error (58), rollback (40).
_TRANSIENT_SQLSTATE = ("08", "53", "57", "58", "40")


def is_transient(exc: BaseException) -> bool:
    """Would the same write succeed later? (Database away or busy: yes; a bad row: no.)"""
    if isinstance(exc, asyncpg.PostgresError):
        return str(getattr(exc, "sqlstate", "") or "")[:2] in _TRANSIENT_SQLSTATE
    return isinstance(
        exc, (OSError, ConnectionError, TimeoutError, asyncpg.InterfaceError, asyncio.TimeoutError)
    )

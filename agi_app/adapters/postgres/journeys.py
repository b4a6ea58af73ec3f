"""Writes call journeys to PostgreSQL off the per-call hot path.

Call tasks only append events to an in-memory buffer (``emit`` never blocks and
never raises). A background task writes them in batches.

**When PostgreSQL is away** (a write fails for a transient reason, see
``is_transient``, or takes longer than ``deadline_s``) the writer switches to
its ``spool`` (``agi_app.db.spool``): from then on, every ``spool_interval_s``
or ``batch`` events, whichever comes first, it appends its buffer to the spool
with one write and one fsync (under 1 ms, 8 ms at p99 on the test box). So a
``kill -9`` loses at most the events emitted since the last append
(``spool_interval_s`` worth, 50 ms by default: 10-30 events at 600 events/s,
measured by tests/unit/test_journey_spool_kill.py), a power cut at most one
more batch. While spooling, it tries the database every
backoff (0.2 s doubling to 5 s): the sealed segments are replayed oldest
first, each removed once all its events are written, with new events still
appended behind them; only when the spool is empty do writes go straight to
the database again, so events reach it in the order they were emitted (a
call's end never lands before its start). At start-up a spool left by an
earlier run is replayed the same way. A write interrupted by a crash is
harmless: inserts are idempotent (``calls (id, started_at)``,
``call_steps (call_id, seq, started_at)``, ``started_at`` being the call's
start, the tables' partition key, which each row takes from the calls table:
see ``journey_sql``; the end is an UPDATE), and the step's ``seq`` is assigned
here in ``emit`` and spooled with the event, so a replay writes the same keys
again.

When the spool is full too (``max_bytes``), events stay in memory (up to
``max_buffer``) and the oldest are dropped past that: counted in ``dropped``
and logged with the number. ``close`` (graceful stop) appends what is still in
memory to the spool.

A call that spans a crash: the steps spooled before it are kept with their
seq. If Asterisk still holds the channel when the app is back, reconcile adopts
it and serves it afresh under the same call id; its new CallStart is ignored
(the first one stays), its steps are numbered from 1 again, so those whose seq
was already used are dropped by ``ON CONFLICT`` and the rest are kept; the
CallEnd of the new process ends the journey.

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
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from agi_app.adapters.postgres.journey_sql import (
    START_SQL,
    STEP_SQL,
    as_columns,
    end_row,
    known_starts,
    start_row,
    step_row,
    update_ends,
)
from agi_app.adapters.postgres.spool import Spool, encode_event, read_events
from agi_app.core.journey import CallEnd, CallStart, CallStep, JourneyEvent

log = logging.getLogger(__name__)

PoolGetter = Callable[[], Awaitable[Any]]


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
        spool: Spool | None = None,
        spool_interval_s: float = 0.05,
        deadline_s: float = 5.0,
        node: str | None = None,
    ) -> None:
        self._get_pool = get_pool
        self._node = node  # recorded in calls.node: which node served the call
        self._buffer: deque[JourneyEvent] = deque()
        self._max = max_buffer
        self._batch = batch
        self._interval = interval_s
        self._seq: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._rejected_path = rejected_path
        self._spool = spool
        self._spool_interval = spool_interval_s
        self._deadline = deadline_s
        # A spool left by an earlier run is replayed before anything new is written.
        self.spooling = spool is not None and spool.size > 0
        self.dropped = 0
        self._dropped_logged = 0
        self._dropped_log_at = -1e9
        self._spool_error_at = -1e9
        self.written = 0
        self.rejected = 0
        self.spooled = 0
        self.replayed = 0

    @property
    def pending(self) -> int:
        """Events in memory, neither in the database nor in the spool."""
        return len(self._buffer)

    @property
    def spool_bytes(self) -> int:
        return self._spool.size if self._spool is not None else 0

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
        """Wait until everything emitted so far is in the database or the spool."""
        self._wake.set()
        async with asyncio.timeout(timeout):
            while self._buffer:
                self._idle.clear()
                await self._idle.wait()

    async def run(self) -> None:
        """The writer loop; cancel it to stop (call ``flush``, then ``close``)."""
        loop = asyncio.get_running_loop()
        backoff = self._interval
        next_try = 0.0
        while True:
            try:
                async with asyncio.timeout(
                    self._spool_interval if self.spooling else self._interval
                ):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            self._log_dropped()
            if self.spooling:
                await self._to_spool()
                if loop.time() >= next_try:
                    try:
                        await self._replay()
                        backoff = self._interval
                    except Exception as exc:  # transient (see is_transient): keep spooling
                        log.warning("journey spool replay paused (%r)", exc)
                        next_try = loop.time() + backoff
                        backoff = min(backoff * 2, 5.0)
            while self._buffer and not self.spooling:
                batch = self._head()
                try:
                    await self._write_within_deadline(batch)
                except Exception as exc:  # transient (see is_transient): keep the events
                    next_try = loop.time() + backoff
                    if self._spool is not None:
                        log.warning("journey write failed (%r); spooling to disk", exc)
                        self.spooling = True
                        await self._to_spool()
                        break
                    log.warning("journey write failed (%r); %d events kept", exc, len(self._buffer))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    break
                self._pop(batch, len(batch))
                self.written += len(batch)
                backoff = self._interval
            if not self._buffer:
                self._idle.set()

    def close(self) -> None:
        """Graceful stop, after ``run`` is cancelled: what is still in memory goes to
        the spool (fsynced), so the next start writes it."""
        if self._spool is None:
            if self._buffer:
                log.warning("stopping with %d journey events unwritten", len(self._buffer))
            return
        try:
            while self._buffer:
                batch = self._head()
                if self._taken(batch, self._spool.append([encode_event(e) for e in batch])) == 0:
                    break
        except OSError as exc:
            log.error("journey spool %s: %s", self._spool.folder, exc)
        if self._buffer:
            log.error("journey spool full or failing: %d events lost at stop", self.pending)
        self._spool.close()

    async def _write_within_deadline(self, batch: list[JourneyEvent]) -> None:
        async with asyncio.timeout(self._deadline):  # PostgreSQL slower than this: away
            await self._write_isolating(batch)

    async def _to_spool(self) -> None:
        """Append the buffer to the spool, one write and fsync per batch."""
        spool = self._spool
        assert spool is not None
        try:
            while self._buffer:
                batch = self._head()
                payloads = [encode_event(e) for e in batch]
                if self._taken(batch, await asyncio.to_thread(spool.append, payloads)) == 0:
                    return  # full: the events wait in memory (dropped past max_buffer)
        except OSError as exc:  # disk full or gone: logged every 10 s, events kept
            now = time.monotonic()
            if now - self._spool_error_at >= 10:
                self._spool_error_at = now
                log.error("journey spool %s: %s; %d events kept", spool.folder, exc, self.pending)

    def _head(self) -> list[JourneyEvent]:
        return [self._buffer[i] for i in range(min(self._batch, self.pending))]

    def _pop(self, batch: list[JourneyEvent], n: int) -> None:
        """Take the first ``n`` events of ``batch`` off the buffer (those ``emit``
        dropped meanwhile, when the buffer was full, are gone already)."""
        for event in batch[:n]:
            if self._buffer and self._buffer[0] is event:
                self._buffer.popleft()
        if not self._buffer:
            self._idle.set()

    def _taken(self, batch: list[JourneyEvent], spooled: int) -> int:
        self._pop(batch, spooled)
        self.spooled += spooled
        return spooled

    async def _replay(self) -> None:
        """Write the spooled events in order, removing each segment once written;
        ``spooling`` ends when the spool is empty. A transient failure propagates."""
        spool = self._spool
        assert spool is not None
        began, before = time.monotonic(), self.replayed
        while True:
            sealed = await asyncio.to_thread(spool.sealed)
            if not sealed:
                await asyncio.to_thread(spool.seal)  # the segment being appended to, next
                sealed = await asyncio.to_thread(spool.sealed)
                if not sealed:
                    break
            for segment in sealed:
                await self._replay_segment(spool, segment)
                await self._to_spool()  # events that came meanwhile, behind the rest
        self.spooling = False
        took = time.monotonic() - began
        log.info(
            "journey spool replayed: %d events in %.2f s (%.0f events/s)",
            self.replayed - before,
            took,
            (self.replayed - before) / max(took, 1e-6),
        )

    async def _replay_segment(self, spool: Spool, segment: Path) -> None:
        read = await asyncio.to_thread(read_events, segment)  # decoding off the loop too
        if read.torn or read.corrupt:
            log.warning(
                "journey spool %s: %d corrupt records skipped%s",
                segment.name,
                read.corrupt,
                ", torn last record skipped" if read.torn else "",
            )
        for i in range(0, len(read.events), self._batch):
            await self._write_within_deadline(read.events[i : i + self._batch])
        await asyncio.to_thread(spool.remove, segment)
        self.replayed += len(read.events)

    def _log_dropped(self) -> None:
        now = time.monotonic()
        if self.dropped > self._dropped_logged and now - self._dropped_log_at >= 10:
            self._dropped_log_at = now
            log.error(
                "journey buffer full (%d in memory, database away, spool full or off):"
                " %d events dropped (%d since start)",
                self.pending,
                self.dropped - self._dropped_logged,
                self.dropped,
            )
            self._dropped_logged = self.dropped

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
            # Each call's start as the table has it; a call not there yet starts now.
            known = await known_starts(conn, batch)
            new = []
            for e in starts:
                if e.call_id not in known:  # else a replay, or a call adopted after a crash
                    known[e.call_id] = e.started_at
                    new.append(e)
            if new:
                await conn.execute(START_SQL, *as_columns([start_row(e, self._node) for e in new]))
            if steps:
                rows = [step_row(e, known.get(e.call_id)) for e in steps]
                await conn.execute(STEP_SQL, *as_columns(rows))
            ended = [end_row(e, known[e.call_id]) for e in ends if e.call_id in known]
            if ended:
                await update_ends(conn, ended)


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

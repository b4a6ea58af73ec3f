"""The journey spool on a tmp folder: record format, torn and corrupt records,
the size cap, and the writer spooling, replaying and stopping."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.adapters.postgres.spool import (
    HEADER,
    Spool,
    decode_event,
    encode_event,
    encode_record,
    parse_segment,
    read_events,
    read_segment,
)
from agi_app.core.journey import CallEnd, CallStart, CallStep, JourneyEvent
from tests.fake_pg import FakePool

T0 = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


def journey(call_id: str, steps: int = 3) -> list[JourneyEvent]:
    events: list[JourneyEvent] = [CallStart(call_id, "13800000005", "100", "ari", T0)]
    for n in range(steps):
        events.append(CallStep(call_id, f"node{n}", "menu", T0, "1", {"n": n, "zh": "话费"}))
    events.append(CallEnd(call_id, T0, "completed", 16, {"grade": "gold", "shedding_level": 2}))
    return events


def test_an_event_comes_back_as_it_was_spooled() -> None:
    for event in journey("c1"):
        assert decode_event(encode_event(event)) == event


def test_a_torn_last_record_is_skipped_not_replayed_half(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    assert spool.append([b"one", b"two", b"three"]) == 3
    spool.close()
    (segment,) = spool.segments()
    data = segment.read_bytes()
    for cut in range(1, HEADER.size + len(b"three")):  # every way the last write can tear
        read = parse_segment(data[:-cut])
        assert read.records == [b"one", b"two"] and read.torn and read.corrupt == 0


def test_a_corrupt_middle_record_is_skipped_and_counted(tmp_path: Path) -> None:
    records = [encode_record(p) for p in (b"first", b"second", b"third")]
    payload_byte = len(records[0]) + HEADER.size + 2
    length_byte = len(records[0]) + 3
    for at in (payload_byte, length_byte):
        data = bytearray(b"".join(records))
        data[at] ^= 0xFF
        read = parse_segment(bytes(data))
        assert read.records == [b"first", b"third"] and read.corrupt == 1 and not read.torn


def test_append_stops_at_the_cap_and_says_how_many_fit(tmp_path: Path) -> None:
    record = len(encode_record(b"x" * 90))
    spool = Spool(tmp_path, max_bytes=record * 3 + 10, segment_bytes=record * 2)
    assert spool.append([b"x" * 90] * 2) == 2
    assert spool.append([b"x" * 90] * 5) == 1
    assert spool.append([b"x" * 90]) == 0
    assert spool.size == record * 3
    spool.close()
    assert [len(read_segment(p).records) for p in spool.segments()] == [2, 1]
    again = Spool(tmp_path, max_bytes=record * 3 + 10)  # a restart counts what is there
    assert again.size == record * 3 and again.append([b"x"]) == 0


def test_a_new_process_never_appends_to_an_old_segment(tmp_path: Path) -> None:
    first = Spool(tmp_path, max_bytes=10_000)
    first.append([b"a"])
    with first.segments()[0].open("ab") as fh:
        fh.write(encode_record(b"torn")[:-2])  # the crash
    second = Spool(tmp_path, max_bytes=10_000)
    second.append([b"b"])
    reads = [read_segment(p) for p in second.segments()]
    assert [(r.records, r.torn) for r in reads] == [([b"a"], True), ([b"b"], False)]


def test_a_file_named_like_a_segment_but_not_0_to_9_is_not_one(tmp_path: Path) -> None:
    """A "².seg": isdigit() said yes, and the spool did not open (int("²") raises)."""
    first = Spool(tmp_path, max_bytes=10_000)
    first.append([b"a"])
    segments = first.segments()
    (tmp_path / "².seg").write_bytes(b"")
    second = Spool(tmp_path, max_bytes=10_000)
    assert second.segments() == segments


async def run_writer(writer: JourneyWriter, until: Any, timeout: float = 5) -> None:
    task = asyncio.create_task(writer.run())
    try:
        async with asyncio.timeout(timeout):
            while not until():
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_database_away_events_go_to_disk_then_replay_in_order(tmp_path: Path) -> None:
    pool = FakePool(up=False)

    async def get_pool() -> Any:
        return pool

    writer = JourneyWriter(get_pool, batch=10, spool=Spool(tmp_path, 1_000_000))
    events = [e for n in range(20) for e in journey(f"c{n}")]
    for e in events:
        writer.emit(e)
    await run_writer(writer, lambda: writer.pending == 0)
    assert writer.spooling and writer.spooled == len(events) and not pool.steps
    pool.up = True
    await run_writer(writer, lambda: not writer.spooling)
    assert writer.replayed == len(events) and writer.spool_bytes == 0
    assert len(pool.calls) == 20 and all(c["outcome"] == "completed" for c in pool.calls.values())
    assert sorted(pool.steps) == sorted((f"c{n}", s) for n in range(20) for s in (1, 2, 3))
    assert not list(tmp_path.glob("*.seg"))


async def test_a_replay_interrupted_then_resumed_writes_nothing_twice(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1_000_000, segment_bytes=2_000)  # several segments
    writer = JourneyWriter(_none, batch=10, spool=spool)
    for n in range(30):
        for e in journey(f"c{n}"):
            writer.emit(e)
    writer.close()  # graceful stop with the database away: all in the spool
    segments = len(spool.segments())
    assert segments > 3 and writer.pending == 0

    pool = FakePool(fail_after=6)  # gone in the middle of the second segment

    async def get_pool() -> Any:
        return pool

    # The next process replays the spool at start; it dies (cancelled) mid-replay.
    second = JourneyWriter(get_pool, batch=3, spool=Spool(tmp_path, 1_000_000))
    assert second.spooling
    await run_writer(second, lambda: pool.failures > 0)
    assert len(Spool(tmp_path, 1_000_000).segments()) == segments - 1
    pool.fail_after = None
    third = JourneyWriter(get_pool, batch=3, spool=Spool(tmp_path, 1_000_000))
    await run_writer(third, lambda: not third.spooling)
    assert len(pool.calls) == 30 and len(pool.steps) == 90
    assert all(c["outcome"] == "completed" for c in pool.calls.values())
    assert pool.ignored > 0  # the half-replayed segment went in again, each key once
    assert not list(tmp_path.glob("*.seg"))


async def _none() -> Any:
    return None


async def test_spool_full_events_wait_in_memory_then_are_dropped_and_counted(
    tmp_path: Path,
) -> None:
    numbered = journey("c1", steps=6)[:2]
    sizer = JourneyWriter(_none)  # emit numbers the steps: records are this size once numbered
    for e in numbered:
        sizer.emit(e)
    cap = sum(len(encode_record(encode_event(e))) for e in numbered) + 5  # 2 fit
    events = journey("c1", steps=6)
    writer = JourneyWriter(_none, batch=3, max_buffer=4, spool=Spool(tmp_path, cap))
    for e in events[:4]:
        writer.emit(e)
    await run_writer(writer, lambda: writer.spooled == 2)
    assert writer.pending == 2 and writer.dropped == 0  # the rest wait in memory
    for e in events[4:]:
        writer.emit(e)  # 2 waiting + 4 new, memory holds 4: the 2 oldest are dropped
    assert writer.pending == 4 and writer.dropped == 2


async def test_graceful_stop_puts_the_memory_buffer_in_the_spool(tmp_path: Path) -> None:
    writer = JourneyWriter(_none, spool=Spool(tmp_path, 1_000_000))
    events = journey("c1")
    for e in events:
        writer.emit(e)
    writer.close()  # the loop never ran
    (segment,) = Spool(tmp_path, 1_000_000).segments()
    assert [decode_event(p) for p in read_segment(segment).records] == events


async def test_events_dropped_during_a_slow_write_cost_no_newer_event() -> None:
    pool = FakePool()
    pool.hold = asyncio.Event()

    async def get_pool() -> Any:
        return pool

    writer = JourneyWriter(get_pool, batch=4, max_buffer=4)
    for e in journey("c1", steps=2):
        writer.emit(e)  # 4 events: one batch, written while the database is slow
    task = asyncio.create_task(writer.run())
    try:
        async with asyncio.timeout(5):
            while not pool.held:
                await asyncio.sleep(0.01)
            for e in journey("c2", steps=0):
                writer.emit(e)  # memory full: the two oldest (in the batch in flight) dropped
            assert writer.dropped == 2
            pool.hold.set()
            while writer.pending or pool.commits < 2:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert set(pool.calls) == {"c1", "c2"}  # c2, emitted during the write, is not lost
    assert all(c["outcome"] == "completed" for c in pool.calls.values())


async def test_a_database_slower_than_the_deadline_is_treated_as_away(tmp_path: Path) -> None:
    pool = FakePool()
    pool.hold = asyncio.Event()  # every statement waits: PostgreSQL hung

    async def get_pool() -> Any:
        return pool

    writer = JourneyWriter(get_pool, deadline_s=0.1, spool=Spool(tmp_path, 1_000_000))
    events = journey("c1")
    for e in events:
        writer.emit(e)
    await run_writer(writer, lambda: writer.spooled == len(events))
    assert writer.spooling and writer.pending == 0 and not pool.calls
    pool.hold.set()  # it answers again
    await run_writer(writer, lambda: not writer.spooling)
    assert writer.replayed == len(events) and pool.calls["c1"]["outcome"] == "completed"


async def test_a_spool_that_cannot_be_written_keeps_the_events_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "spool"
    writer = JourneyWriter(_none, spool=Spool(folder, 1_000_000))
    events = journey("c1")
    for e in events:
        writer.emit(e)
    folder.rmdir()
    folder.write_text("")  # the folder is gone, a file in its place: no segment can be made
    await run_writer(writer, lambda: "journey spool" in caplog.text)
    assert writer.spooling and writer.pending == len(events) and writer.spooled == 0
    folder.unlink()
    folder.mkdir()  # the disk is back
    await run_writer(writer, lambda: writer.spooled == len(events))
    assert writer.pending == 0


def test_a_record_that_is_not_an_event_is_counted_with_the_corrupt(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10_000)
    spool.append([encode_event(journey("c1")[0]), b'{"t": "nonsense"}', b"not json"])
    read = read_events(spool.segments()[0])
    assert [e.call_id for e in read.events] == ["c1"] and read.corrupt == 2 and not read.torn

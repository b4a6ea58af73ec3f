"""The static menu's call records (dialplan/40-static.conf) into journeys."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from agi_app.adapters.dialplan.static_record import StaticRecordImporter, parse_line
from agi_app.core.journey import CallEnd, CallStart, MemoryJourney

GOOD = "1796617462.3|1796617462|1796617470|13800000005|10086|TIMEOUT|16"


def test_a_line_reads_into_a_start_and_an_end() -> None:
    call = parse_line(GOOD)
    assert call is not None
    start, end = call.events()
    assert isinstance(start, CallStart) and isinstance(end, CallEnd)
    assert (start.call_id, start.caller, start.called, start.via) == (
        "1796617462.3", "13800000005", "10086", "static",
    )  # fmt: skip
    assert end.ended_at - start.started_at == dt.timedelta(seconds=8)
    assert (end.outcome, end.hangup_cause, end.facts["queue_status"]) == ("fallback", 16, "TIMEOUT")


def test_lines_that_do_not_read_are_refused() -> None:
    for bad in (
        "",
        "garbage",
        GOOD.replace("13800000005", "${SHELL(id)}"),
        GOOD.replace("10086", "1;2,3"),
        GOOD + "|extra",
        GOOD.replace("TIMEOUT", "timeout"),
        "1.1|" + "9" * 13 + "|1|1|1||",
    ):
        assert parse_line(bad) is None, bad
    assert parse_line("1.1|1|1||||") is not None  # no caller, number, status or cause


async def test_the_importer_takes_the_file_and_removes_it_once_flushed(tmp_path: Path) -> None:
    record = tmp_path / "static-calls.log"
    record.write_text(GOOD + "\nnot a record\n" + GOOD.replace(".3|", ".4|") + "\n")
    sink, flushed = MemoryJourney(), []

    async def flush() -> None:
        flushed.append(len(sink.events))

    importer = StaticRecordImporter(record, sink, flush)
    assert await importer.import_once() == 2
    assert (importer.imported, importer.skipped, flushed) == (2, 1, [4])
    assert not list(tmp_path.iterdir())  # taken and removed
    assert await importer.import_once() == 0


async def test_a_file_left_taken_by_a_crash_is_imported_first(tmp_path: Path) -> None:
    record = tmp_path / "static-calls.log"
    (tmp_path / "static-calls.log.importing").write_text(GOOD + "\n")
    record.write_text(GOOD.replace(".3|", ".4|") + "\n")
    sink = MemoryJourney()

    async def flush() -> None:
        return None

    importer = StaticRecordImporter(record, sink, flush)
    assert await importer.import_once() == 1
    assert [e.call_id for e in sink.events] == ["1796617462.3"] * 2
    assert await importer.import_once() == 1
    assert [e.call_id for e in sink.events][2:] == ["1796617462.4"] * 2

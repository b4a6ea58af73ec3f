"""Daily journey partitions, the pure parts: names, days kept ready, days past the
retention; the keeper surviving an outage; the commands' surface; the peak figure."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agi_app.adapters.postgres.partitions import (
    PartitionKeeper,
    day_bounds,
    day_of,
    days_to_keep_ready,
    expired,
    partition_name,
)
from agi_app.entry.cli import build_parser
from agi_app.entry.cli.journeys import journey_line, local_times, render_partitions
from agi_app.settings import Settings
from agi_app.tools.bench.journeys import peak_need

TODAY = date(2026, 12, 7)


def test_a_partition_is_named_after_its_utc_day_and_read_back() -> None:
    assert partition_name("calls", TODAY) == "calls_p20261207"
    assert partition_name("call_steps", TODAY) == "call_steps_p20261207"
    assert day_of("call_steps_p20261207") == TODAY
    for other in ("calls_default", "calls_p2026120", "customers_p20261207", "calls_p20261207x"):
        assert day_of(other) is None  # never taken for one of ours, never dropped


def test_a_day_is_a_utc_day() -> None:
    assert day_bounds(TODAY) == (
        datetime(2026, 12, 7, tzinfo=UTC),
        datetime(2026, 12, 8, tzinfo=UTC),
    )


def test_partitions_are_kept_ready_from_yesterday_to_the_days_ahead() -> None:
    days = days_to_keep_ready(TODAY, 7)
    assert days[0] == date(2026, 12, 6) and days[-1] == date(2026, 12, 14)
    assert len(days) == 9
    assert days_to_keep_ready(date(2026, 12, 31), 1) == [
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 1),
    ]


@pytest.mark.parametrize(
    ("retention", "expected"),
    [
        (0, []),  # keep forever
        (400, [date(2025, 11, 1)]),
        (30, [date(2025, 11, 1), date(2025, 11, 2), date(2026, 11, 6)]),
        (
            1,
            [
                date(2025, 11, 1),
                date(2025, 11, 2),
                date(2026, 11, 6),
                date(2026, 11, 7),
                date(2026, 12, 5),
            ],
        ),
    ],
)
def test_only_days_wholly_past_the_retention_expire(retention: int, expected: list[date]) -> None:
    days = [
        date(2026, 12, 8),
        date(2026, 12, 6),
        date(2026, 12, 5),
        date(2026, 11, 7),  # today - 30: still kept at 30 days
        date(2026, 11, 6),
        date(2025, 11, 2),  # today - 400: still kept at 400 days
        date(2025, 11, 1),
        TODAY,
    ]
    assert expired(days, TODAY, retention) == expected


async def test_the_keeper_survives_the_database_being_away() -> None:
    asked = 0
    three = asyncio.Event()

    async def get_pool() -> Any:
        nonlocal asked
        asked += 1
        if asked >= 3:
            three.set()
        raise ConnectionRefusedError("database away")

    keeper = PartitionKeeper(get_pool, 7, 400, retry_s=0.001)
    task = asyncio.create_task(keeper.run())
    try:
        async with asyncio.timeout(5):
            await three.wait()  # tried again after each failure, did not die
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert keeper.runs == 0


async def test_the_keeper_waits_for_the_pool() -> None:
    async def no_pool() -> Any:
        return None

    assert await PartitionKeeper(no_pool, 7, 400).maintain_once() is None


def test_retention_and_days_ahead_settings() -> None:
    s = Settings()
    assert (s.journey_partitions_ahead, s.journey_retention_days) == (7, 400)
    assert Settings(journey_retention_days=0).journey_retention_days == 0  # keep forever
    with pytest.raises(ValueError):
        Settings(journey_retention_days=-1)


def test_the_commands_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(["journeys", "partitions", "--ensure", "--drop-old", "--json"])
    assert (args.ensure, args.drop_old, args.json, args.exact) == (True, True, True, False)
    assert args.handler.__name__ == "_partitions"
    latest = parser.parse_args(["journeys", "--last", "3"])
    assert latest.last == 3 and latest.handler.__name__ == "_handle"
    bench = parser.parse_args(["bench", "journeys", "--seconds", "20"])
    assert (bench.kind, bench.seconds) == ("journeys", 20)
    assert parser.parse_args(["bench", "--smoke"]).kind == "calls"
    report = parser.parse_args(["report", "--from", "2026-12-01", "--to", "2026-12-07"])
    assert report.node is None
    assert parser.parse_args(["report", "--from", "2026-12-01", "--to", "2026-12-07", "--node", "n2"]).node == "n2"  # fmt: skip # noqa: E501


def test_a_journey_line_names_the_node() -> None:
    journey = {
        "started_at": "2026-12-07T10:00:00+08:00",
        "node": "ivr2",
        "caller_e164": "+8613800138000",
        "caller": "13800138000",
        "called": "10086",
        "outcome": "completed",
        "hangup_cause": 16,
        "steps": [{"node": "entry", "digits": ""}, {"node": "main", "digits": "1"}],
    }
    line = journey_line(journey)
    assert " ivr2 " in line and line.endswith("entry > main[1]")
    assert " - " in journey_line({**journey, "node": None})  # written before 0009


def test_journeys_are_shown_in_the_hotline_s_time_zone() -> None:
    # As latest_journeys reads them: PostgreSQL's UTC. Before, printed so, while
    # report and analytics count the days in the hotline's zone.
    utc: dict[str, Any] = {
        "started_at": "2026-12-07T17:30:00.250000+00:00",
        "ended_at": None,
        "node": "ivr1",
        "caller_e164": "+8613800138000",
        "caller": "13800138000",
        "called": "10086",
        "outcome": None,
        "hangup_cause": None,
        "steps": [{"node": "entry", "digits": "", "at": "2026-12-07T17:30:01+00:00"}],
    }
    local = local_times(utc, ZoneInfo("Asia/Shanghai"))
    assert journey_line(local).startswith("2026-12-08T01:30:00.250000+08:00  ivr1 ")
    assert local["steps"][0]["at"] == "2026-12-08T01:30:01+08:00"
    assert local["ended_at"] is None and local["caller"] == "13800138000"
    assert utc["started_at"].endswith("+00:00")  # the journey read is left as it was


def test_the_partition_listing_marks_estimates_and_the_default() -> None:
    text = render_partitions(
        {
            "created": ["calls_p20261214"],
            "dropped": [],
            "retention_days": 0,
            "partitions": [
                {"table": "calls", "name": "calls_p20261207", "day": "2026-12-07", "rows": 12, "exact": False},  # noqa: E501
                {"table": "calls", "name": "calls_default", "day": None, "rows": 0, "exact": True},
            ],
        }
    )  # fmt: skip
    assert "~12" in text and "(default)" in text
    assert "retention: forever" in text and "created: calls_p20261214" in text


def test_the_10086_peak_in_rows_per_second() -> None:
    need = peak_need()  # 1.3 M x 2.5 x 10 % / 3600 s, 10 steps a call
    assert round(need.calls_per_s, 1) == 90.3
    assert round(need.step_rows_per_s) == 903

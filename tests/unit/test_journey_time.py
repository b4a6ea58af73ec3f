"""Journeys are stamped with real time even when QA shifts the business clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agi_app.core.bus import DataBus
from agi_app.core.decisions import FlowOutcome, Identity, Shedding
from agi_app.core.journey import CallEnd, CallStart, MemoryJourney
from agi_app.service.call import CallServices, serve_call
from tests.fakes import FakeCall, FixedClock

MONTH_END = datetime(2020, 2, 28, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


async def test_business_clock_drives_decisions_wall_clock_stamps_the_journey() -> None:
    journey = MemoryJourney()
    seen: list[datetime] = []
    clock = FixedClock(MONTH_END)

    async def identify(raw_caller: str) -> Identity:
        return Identity(None, None, "unknown")

    def decide(bus: DataBus) -> Shedding:
        seen.append(clock.now())  # what a rule would read
        return Shedding(2, frozenset(), "month_end")

    async def run_flow(call: object, bus: DataBus) -> FlowOutcome:
        return FlowOutcome("completed", 16)

    svc = CallServices(clock, journey, identify, decide, run_flow)
    before = datetime.now(UTC)
    await serve_call(FakeCall(), "ari", svc)
    after = datetime.now(UTC)
    assert seen == [MONTH_END]
    start = next(e for e in journey.events if isinstance(e, CallStart))
    end = next(e for e in journey.events if isinstance(e, CallEnd))
    for stamp in (start.started_at, end.ended_at):
        assert before - timedelta(seconds=1) <= stamp <= after
    assert end.facts["shedding_rule"] == "month_end"

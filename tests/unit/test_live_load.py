"""Live queue load over a fake AMI: load rules follow it; when AMI goes silent
the load goes stale (calendar rules only) and comes back with AMI."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from pydantic import SecretStr

from agi_app.adapters.ami.client import Ami
from agi_app.adapters.ami.live_load import LoadMonitor
from agi_app.core.shedding.load import LoadTracker, QueueLoad
from agi_app.core.shedding.rules import SheddingRules
from agi_app.settings import Settings
from tests.fake_ami import FakeAmi

RULES = SheddingRules.model_validate(
    {
        "levels": {n: ["self_service_first"] for n in (1, 2, 3, 4)},
        "rules": [
            {
                "name": "queue_full",
                "level": 3,
                "when": {"load": {"queue": "support", "waiting_gte": 5}},
            }
        ],
    }
)
NOW = dt.datetime(2026, 12, 10, 10, 0, tzinfo=dt.UTC)


async def _until(cond: object, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_stale_live_load_falls_back_to_the_calendar_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    fake = FakeAmi({"support": QueueLoad(waiting=9, available=0, logged_in=2)})
    port = await fake.start()
    s = Settings(ami_port=port, ami_user="u", ami_password=SecretStr("p"))
    tracker = LoadTracker(RULES)
    monitor = LoadMonitor(Ami(s), tracker, lambda: NOW, interval_s=0.05, stale_after_s=0.5)
    task = asyncio.create_task(monitor.run())
    try:
        await _until(lambda: tracker.active == frozenset({"queue_full"}))
        await fake.stop()  # AMI away
        await _until(lambda: monitor.stale)
        assert tracker.active == frozenset() and monitor.queues == {}
        assert "live queue load stale" in caplog.text
        await fake.start(port)  # AMI back on the same port
        await _until(lambda: not monitor.stale and tracker.active == frozenset({"queue_full"}))
        assert "live queue load is back" in caplog.text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        monitor.ami.close()
        await fake.stop()

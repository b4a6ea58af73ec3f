"""The live edge: AMI QueueSummary about once a second, fed to the tracker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from agi_app.adapters.ami.client import Ami, AmiError
from agi_app.core.shedding.load import LoadTracker, QueueLoad

log = logging.getLogger(__name__)


def _int(msg: Any, key: str) -> int:
    try:
        return int(str(msg.get(key, "0")).strip() or 0)
    except ValueError:
        return 0


def parse_queue_summary(messages: list[Any]) -> dict[str, QueueLoad]:
    """QueueSummary events (dict-like) to figures per queue."""
    out: dict[str, QueueLoad] = {}
    for msg in messages:
        if str(msg.get("Event", "")) != "QueueSummary":
            continue
        out[str(msg.get("Queue"))] = QueueLoad(
            waiting=_int(msg, "Callers"),
            longest_hold_s=_int(msg, "LongestHoldTime"),
            available=_int(msg, "Available"),
            logged_in=_int(msg, "LoggedIn"),
        )
    return out


class LoadMonitor:
    """Keeps ``queues`` and the tracker fresh to within about ``interval_s``."""

    def __init__(
        self, ami: Ami, tracker: LoadTracker, now: Callable[[], datetime], interval_s: float = 1.0
    ) -> None:
        self.ami = ami
        self.tracker = tracker
        self.now = now
        self.interval_s = interval_s
        self.queues: dict[str, QueueLoad] = {}
        self.fresh = asyncio.Event()

    async def poll_once(self) -> dict[str, QueueLoad]:
        messages = await self.ami.action({"Action": "QueueSummary"}, as_list=True, timeout=5)
        self.queues = parse_queue_summary(list(messages))
        self.tracker.update(self.now(), self.queues)
        self.fresh.set()
        return self.queues

    async def run(self) -> None:
        while True:
            try:
                if not self.ami.ready:
                    await self.ami.connect()
                await self.poll_once()
            except (AmiError, OSError) as exc:
                log.warning("queue load unavailable: %s", exc)
            await asyncio.sleep(self.interval_s)

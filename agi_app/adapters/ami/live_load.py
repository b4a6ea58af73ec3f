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
    """Keeps ``queues`` and the tracker fresh to within about ``interval_s``.

    When AMI has not answered for ``stale_after_s`` the live load is *stale*:
    the queues are forgotten and the load rules switched off, so shedding falls
    back to the calendar rules (and callbacks wait: nobody knows whether an
    agent is free). That is logged once, shown in the metrics, and undone at
    the first good poll.
    """

    def __init__(
        self,
        ami: Ami,
        tracker: LoadTracker,
        now: Callable[[], datetime],
        interval_s: float = 1.0,
        stale_after_s: float = 5.0,
    ) -> None:
        self.ami = ami
        self.tracker = tracker
        self.now = now
        self.interval_s = interval_s
        self.stale_after_s = stale_after_s
        self.queues: dict[str, QueueLoad] = {}
        self.fresh = asyncio.Event()
        self.stale = False
        self._last_ok = 0.0  # loop time of the last good poll (set when run starts)

    async def poll_once(self) -> dict[str, QueueLoad]:
        messages = await self.ami.action({"Action": "QueueSummary"}, as_list=True, timeout=5)
        self.queues = parse_queue_summary(list(messages))
        self.tracker.update(self.now(), self.queues)
        self._last_ok = asyncio.get_running_loop().time()
        if self.stale:
            self.stale = False
            log.warning("live queue load is back: load rules apply again")
        self.fresh.set()
        return self.queues

    async def run(self) -> None:
        self._last_ok = asyncio.get_running_loop().time()
        while True:
            try:
                if not self.ami.ready:
                    await self.ami.connect(timeout=max(1.0, self.stale_after_s / 2))
                await self.poll_once()
            except (AmiError, OSError) as exc:
                log.debug("queue load unavailable: %s", exc)
                self._check_stale(exc)
            await asyncio.sleep(self.interval_s)

    def _check_stale(self, exc: Exception) -> None:
        silent = asyncio.get_running_loop().time() - self._last_ok
        if self.stale or silent < self.stale_after_s:
            return
        self.stale = True
        self.queues = {}
        self.tracker.clear()
        log.warning(
            "live queue load stale (AMI silent for %.0f s: %s): shedding uses the calendar"
            " rules only until AMI answers again",
            silent,
            exc,
        )

"""The shedding service the running app uses: rules + live load + clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agi_app.ami import Ami
from agi_app.flows.bus import DataBus
from agi_app.routing.config import ServicePolicy
from agi_app.service import Shedding
from agi_app.settings import Settings
from agi_app.shedding.callbacks import CallbackWorker
from agi_app.shedding.live import LoadMonitor
from agi_app.shedding.load import LoadTracker
from agi_app.shedding.rules import decide, load_rules

if TYPE_CHECKING:
    from agi_app.runtime import Runtime


class SheddingService:
    def __init__(self, s: Settings, runtime: Runtime, policy: ServicePolicy) -> None:
        self.rules = load_rules(s.config_dir / "shedding.yaml")
        self.policy = policy
        self.clock = runtime.clock
        self.tracker = LoadTracker(self.rules)
        self.monitor = LoadMonitor(Ami(s), self.tracker, runtime.clock.now)

    def decide(self, bus: DataBus) -> Shedding:
        grade = bus.customer.grade if bus.customer else None
        if grade and grade in self.policy.policy and self.policy.policy[grade].exempt_from_shedding:
            return Shedding(0, frozenset(), "exempt")
        d = decide(self.clock.now(), self.rules, self.tracker.active, bus.customer)
        return Shedding(d.level, d.actions, d.rule)


def build_shedding(s: Settings, runtime: Runtime, policy: ServicePolicy) -> SheddingService:
    service = SheddingService(s, runtime, policy)
    runtime.extra_tasks.append(("load-monitor", service.monitor.run))
    worker = CallbackWorker(runtime.db.pool, runtime.rest, service.monitor)
    runtime.extra_tasks.append(("callback-worker", worker.run))
    runtime.side_channel_owner = worker
    return service

"""The shedding service the running app uses: rules + live load + clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agi_app.adapters.ami.client import Ami
from agi_app.adapters.ami.live_load import LoadMonitor
from agi_app.core.bus import DataBus
from agi_app.core.routing.config import ServicePolicy
from agi_app.core.shedding.load import LoadTracker
from agi_app.core.shedding.rules import decide, load_rules
from agi_app.service.call import Shedding
from agi_app.service.callbacks import CallbackWorker
from agi_app.settings import Settings

if TYPE_CHECKING:
    from agi_app.entry.runtime import Runtime


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

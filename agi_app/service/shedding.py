"""The shedding decision for one call: the rules, the live load, the clock, and
the grades exempt from shedding (VIPs always keep their fast path)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agi_app.core.bus import DataBus
from agi_app.core.clock import Clock
from agi_app.core.decisions import Shedding
from agi_app.core.routing.config import ServicePolicy
from agi_app.core.shedding.load import LoadTracker
from agi_app.core.shedding.rules import SheddingRules, decide


@dataclass
class SheddingOverride:
    """A level forced for every non-exempt caller (QA, over the admin endpoint)."""

    level: int | None = None  # None: the rules decide


@dataclass(frozen=True)
class SheddingService:
    rules: SheddingRules
    policy: ServicePolicy
    clock: Clock
    tracker: LoadTracker  # fed by the live-load adapter (AMI QueueSummary)
    override: SheddingOverride = field(default_factory=SheddingOverride)

    def decide(self, bus: DataBus) -> Shedding:
        grade = bus.customer.grade if bus.customer else None
        if grade and grade in self.policy.policy and self.policy.policy[grade].exempt_from_shedding:
            return Shedding(0, frozenset(), "exempt")
        if bus.at_risk and self.policy.complaint_risk.exempt_from_shedding:
            return Shedding(0, frozenset(), "exempt: complaint risk")
        forced = self.override.level
        if forced is not None:
            return Shedding(forced, frozenset(self.rules.levels.get(forced, [])), "qa_override")
        d = decide(self.clock.now(), self.rules, self.tracker.active, bus.customer)
        return Shedding(d.level, d.actions, d.rule)

"""Live queue load with hysteresis, so shedding levels do not flap.

A load rule turns on as soon as its condition holds. It turns off only after
the load has stayed below the relaxed thresholds (thresholds moved by
``margin``) for ``hold_s`` seconds. Pure: ``now`` and the snapshots come in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from agi_app.core.shedding.rules import Hysteresis, LoadWhen, SheddingRules


@dataclass(frozen=True)
class QueueLoad:
    """One queue's figures from AMI QueueSummary."""

    waiting: int = 0
    longest_hold_s: int = 0
    available: int = 0
    logged_in: int = 0


def load_holds(w: LoadWhen, q: QueueLoad, relax: float = 0.0) -> bool:
    """The load condition; with ``relax`` > 0 the thresholds are eased by that share."""
    tests = [
        w.waiting_gte is None or q.waiting >= w.waiting_gte * (1 - relax),
        w.longest_hold_gte_s is None or q.longest_hold_s >= w.longest_hold_gte_s * (1 - relax),
        w.available_lte is None or q.available <= w.available_lte + (1 if relax else 0),
    ]
    return all(tests)


@dataclass
class LoadTracker:
    rules: SheddingRules
    active: frozenset[str] = frozenset()
    _below_since: dict[str, datetime] = field(default_factory=dict)

    def clear(self) -> None:
        """No live load is known (AMI away): no load rule is active."""
        self.active = frozenset()
        self._below_since.clear()

    def update(self, now: datetime, queues: dict[str, QueueLoad]) -> frozenset[str]:
        """Feed one snapshot; return the load rules now active."""
        h: Hysteresis = self.rules.hysteresis
        active = set(self.active)
        for rule in self.rules.rules:
            w = rule.when.load
            if w is None:
                continue
            q = queues.get(w.queue, QueueLoad())
            if load_holds(w, q):
                active.add(rule.name)
                self._below_since.pop(rule.name, None)
            elif rule.name in active:
                if load_holds(w, q, relax=h.margin):
                    self._below_since.pop(rule.name, None)  # not clearly below yet
                    continue
                since = self._below_since.setdefault(rule.name, now)
                if (now - since).total_seconds() >= h.hold_s:
                    active.discard(rule.name)
                    self._below_since.pop(rule.name, None)
        self.active = frozenset(active)
        return self.active

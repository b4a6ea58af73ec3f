"""The per-call data bus every flow node reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agi_app.core.customer import Customer


@dataclass
class DataBus:
    """Typed per-call context shared by all nodes of a call."""

    call_id: str
    caller: str  # raw caller id as received (untrusted)
    called: str  # called number (DNIS)
    caller_e164: str | None = None  # normalised caller, None when unusable
    customer: Customer | None = None
    lookup: str = "unknown"  # "ok", "unknown" or "lookup_failed"
    language: str = "zh"
    shedding_level: int = 0
    shedding_rule: str = ""
    shedding_actions: frozenset[str] = field(default_factory=frozenset)
    risk: float | None = None  # complaint-risk score, None when not assessed
    risk_reasons: tuple[str, ...] = ()
    at_risk: bool = False  # risk at or above the threshold (config/risk.yaml)
    inputs: dict[str, str] = field(default_factory=dict)  # collected digits by name
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # transaction results
    vars: dict[str, Any] = field(default_factory=dict)  # `set` node values and flags
    node: str = ""  # current node id
    flow: str = ""
    flow_version: str = ""

    @property
    def grade(self) -> str:
        return self.customer.grade if self.customer else "unknown"

    @property
    def tags(self) -> frozenset[str]:
        return self.customer.tags if self.customer else frozenset()

    def values(self) -> dict[str, Any]:
        """Flat view for prompt templates and branch conditions."""
        out: dict[str, Any] = {
            "caller": self.caller_e164 or "",
            "called": self.called,
            "grade": self.grade,
            "language": self.language,
            "shedding_level": self.shedding_level,
            "lookup": self.lookup,
            "risk": self.risk if self.risk is not None else 0.0,
            "at_risk": self.at_risk,
        }
        if self.customer:
            out["name"] = self.customer.name
            out["status"] = self.customer.status
            out["bill_day"] = self.customer.bill_day
            out["brand"] = self.customer.brand
        out.update(self.inputs)
        for result in self.results.values():
            out.update(result)
        out.update(self.vars)
        return out

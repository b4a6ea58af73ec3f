"""What is decided for one call: who is calling, how much load is shed, how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agi_app.core.customer import Customer
from agi_app.core.risk import Risk


@dataclass(frozen=True)
class Identity:
    customer: Customer | None
    e164: str | None
    status: str  # "ok", "unknown", "lookup_failed"
    risk: Risk | None = None  # complaint risk; None when not assessed in time


@dataclass(frozen=True)
class Shedding:
    level: int = 0
    actions: frozenset[str] = frozenset()
    rule: str = ""


@dataclass
class FlowOutcome:
    outcome: str
    cause: int | None
    facts: dict[str, Any] = field(default_factory=dict)

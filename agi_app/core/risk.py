"""Complaint risk: a score from the caller's recent journeys, and its reasons.

Pure. The signals (``CallerHistory``) come from one indexed query at call start
(agi_app.adapters.postgres.risk); the weights from ``config/risk.yaml``. The
score is a sum of weighted, capped signals; the reasons are the signals that
added most, highest first. Routing reads ``at_risk`` (score >= threshold) as
data (``complaint_risk`` in config/service.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agi_app.core.config import load_yaml
from agi_app.core.customer import Customer

SIGNALS = (
    "calls_24h",  # calls in the last 24 h (this one not included)
    "calls_7d",  # calls in the last 7 days
    "invalid_last",  # invalid menu inputs in the caller's last call
    "timeouts_last",  # menu timeouts in the caller's last call
    "agent_during_shedding",  # asked for an agent while load was shed (7 days)
    "abandoned_in_queue",  # left a queue before an agent answered (7 days)
    "callback_failed",  # callbacks that failed (7 days)
    "complaint_tag",  # the CRM tags the customer ``complaint_risk``
)


class RiskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(default=5.0, gt=0)
    weights: dict[str, float] = Field(default_factory=dict)
    caps: dict[str, int] = Field(default_factory=dict)  # a signal counts at most this often
    top_reasons: int = Field(default=3, ge=1, le=len(SIGNALS))

    @model_validator(mode="after")
    def _known_signals(self) -> RiskConfig:
        unknown = sorted((set(self.weights) | set(self.caps)) - set(SIGNALS))
        if unknown:
            raise ValueError(f"unknown signals {unknown}; known: {', '.join(SIGNALS)}")
        return self


@dataclass(frozen=True)
class CallerHistory:
    calls_24h: int = 0
    calls_7d: int = 0
    invalid_last: int = 0
    timeouts_last: int = 0
    agent_during_shedding: int = 0
    abandoned_in_queue: int = 0
    callback_failed: int = 0


class RiskHistory(Protocol):
    """Where the signals come from (PostgreSQL, or a fake)."""

    async def history(self, number_e164: str, now: datetime) -> CallerHistory: ...


class CustomerWithHistory(Protocol):
    """The customer (None: not in the CRM) and the signals in one read: one round
    trip to the store instead of two."""

    async def lookup_with_history(
        self, number_e164: str, now: datetime
    ) -> tuple[Customer | None, CallerHistory]: ...


@dataclass(frozen=True)
class Risk:
    score: float
    reasons: tuple[str, ...]  # e.g. "calls_24h=3 (+6.0)", highest contribution first
    at_risk: bool


def score(history: CallerHistory, tags: frozenset[str], cfg: RiskConfig) -> Risk:
    """The caller's complaint-risk score and its top reasons."""
    counts = {name: getattr(history, name, 0) for name in SIGNALS if name != "complaint_tag"}
    counts["complaint_tag"] = int("complaint_risk" in tags)
    parts: list[tuple[float, str]] = []
    for name, count in counts.items():
        weight = cfg.weights.get(name, 0.0)
        used = min(count, cfg.caps.get(name, count))
        if weight and used:
            parts.append((weight * used, f"{name}={count} (+{weight * used:.1f})"))
    parts.sort(key=lambda p: (-p[0], p[1]))
    total = round(sum(p[0] for p in parts), 2)
    return Risk(total, tuple(p[1] for p in parts[: cfg.top_reasons]), total >= cfg.threshold)


def load_risk(path: Path) -> RiskConfig:
    """config/risk.yaml; ConfigError names the file and the field."""
    return load_yaml(path, RiskConfig)

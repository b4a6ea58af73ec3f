"""The customer record the rest of the application reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Customer:
    """One CRM customer, as looked up by caller number."""

    number: str  # E.164, e.g. +8613800138000
    name: str
    grade: str  # one of the configured grades, e.g. diamond .. standard
    brand: str = ""
    tags: frozenset[str] = field(default_factory=frozenset)
    language: str | None = None  # "zh" or "en"; None: the hotline's default
    bill_day: int | None = None  # None: no bill-day load shedding
    status: str = "active"  # "active" or "suspended"
    last_agent: str | None = None
    last_contact_at: datetime | None = None


class CustomerStore(Protocol):
    """Where customers are looked up by E.164 number (PostgreSQL, or a fake)."""

    async def lookup(self, number_e164: str) -> Customer | None: ...

"""The shedding rules file and the pure decision.

``decide(now, rules, load_active, customer)`` is a pure function: the live
load arrives as the set of load rules the hysteresis tracker holds active.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agi_app.core.config import load_yaml
from agi_app.core.customer import Customer

ACTIONS = ("self_service_first", "reorder_menus", "offer_callback", "no_cross_sell")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarWhen(Strict):
    first_days: int | None = Field(default=None, ge=1, le=15)
    last_days: int | None = Field(default=None, ge=1, le=15)
    dates: list[date] | None = None
    weekdays: list[int] | None = None  # 1 = Monday .. 7 = Sunday
    hours: tuple[int, int] | None = None  # [from, to): 9-12 is 09:00-11:59
    near_bill_day: int | None = Field(default=None, ge=0, le=10)  # within N days of it


class LoadWhen(Strict):
    queue: str
    waiting_gte: int | None = Field(default=None, ge=0)
    longest_hold_gte_s: int | None = Field(default=None, ge=0)
    available_lte: int | None = Field(default=None, ge=0)


class CustomerWhen(Strict):
    grades: list[str] | None = None
    tags_any: list[str] | None = None


class When(Strict):
    calendar: CalendarWhen | None = None
    load: LoadWhen | None = None
    customer: CustomerWhen | None = None


class Rule(Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    level: int = Field(ge=1, le=4)
    when: When


class Hysteresis(Strict):
    margin: float = Field(default=0.2, ge=0, lt=1)
    hold_s: float = Field(default=30, ge=0)


class SheddingRules(Strict):
    timezone: str = "Asia/Shanghai"
    exempt_grades: list[str] = Field(default_factory=list)
    exempt_tags: list[str] = Field(default_factory=list)
    levels: dict[int, list[str]]
    hysteresis: Hysteresis = Hysteresis()
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> SheddingRules:
        ZoneInfo(self.timezone)
        bad = [a for acts in self.levels.values() for a in acts if a not in ACTIONS]
        if bad or sorted(self.levels) != [1, 2, 3, 4]:
            raise ValueError(f"levels must be 1..4 with actions from {ACTIONS}; bad: {bad}")
        names = [r.name for r in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        return self


@dataclass(frozen=True)
class Decision:
    level: int
    actions: frozenset[str]
    rule: str


def load_rules(path: Path) -> SheddingRules:
    """config/shedding.yaml; ConfigError names the file and the field."""
    return load_yaml(path, SheddingRules)


def calendar_holds(c: CalendarWhen, local: datetime, bill_day: int | None) -> bool:
    """All calendar tests of ``c`` hold at the local time ``local``."""
    last = calendar.monthrange(local.year, local.month)[1]
    day = local.day
    tests = [
        c.first_days is None or day <= c.first_days,
        c.last_days is None or day > last - c.last_days,
        c.dates is None or local.date() in c.dates,
        c.weekdays is None or local.isoweekday() in c.weekdays,
        c.hours is None or c.hours[0] <= local.hour < c.hours[1],
    ]
    if c.near_bill_day is not None:
        if bill_day is None:
            return False
        tests.append(_days_to_bill_day(local.date(), bill_day) <= c.near_bill_day)
    return all(tests)


def _days_to_bill_day(today: date, bill_day: int) -> int:
    """Days between today and the nearest bill date (previous, this or next month).

    A bill day past the end of a month falls on its last day (31 -> 30 April)."""
    best = 366
    for shift in (-1, 0, 1):
        y, m = divmod(today.year * 12 + today.month - 1 + shift, 12)
        last = calendar.monthrange(y, m + 1)[1]
        best = min(best, abs((date(y, m + 1, min(bill_day, last)) - today).days))
    return best


def exempt(rules: SheddingRules, customer: Customer | None) -> bool:
    return customer is not None and (
        customer.grade in rules.exempt_grades or bool(customer.tags & set(rules.exempt_tags))
    )


def decide(
    now: datetime, rules: SheddingRules, load_active: frozenset[str], customer: Customer | None
) -> Decision:
    """The shedding level for this caller now, its actions, and the rule that set it."""
    if exempt(rules, customer):
        return Decision(0, frozenset(), "exempt")
    local = now.astimezone(ZoneInfo(rules.timezone))
    best: Rule | None = None
    for rule in rules.rules:
        w = rule.when
        if w.calendar and not calendar_holds(
            w.calendar, local, customer.bill_day if customer else None
        ):
            continue
        if w.load and rule.name not in load_active:
            continue
        if w.customer and not _customer_holds(w.customer, customer):
            continue
        if best is None or rule.level > best.level:
            best = rule
    if best is None:
        return Decision(0, frozenset(), "")
    return Decision(best.level, frozenset(rules.levels[best.level]), best.name)


def _customer_holds(c: CustomerWhen, customer: Customer | None) -> bool:
    grade = customer.grade if customer else "standard"
    tags = customer.tags if customer else frozenset()
    return (c.grades is None or grade in c.grades) and (
        c.tags_any is None or bool(tags & set(c.tags_any))
    )

"""Branch conditions: pure functions of the data bus and ``now``."""

from __future__ import annotations

import calendar
import re
from datetime import datetime

from agi_app.core.bus import DataBus
from agi_app.core.flows.model import Condition


def holds(cond: Condition, bus: DataBus, now: datetime) -> bool:
    """True when every test the condition gives holds."""
    checks = [
        cond.grade_in is None or bus.grade in cond.grade_in,
        cond.grade_not_in is None or bus.grade not in cond.grade_not_in,
        cond.tags_any is None or bool(bus.tags & set(cond.tags_any)),
        cond.shedding_level_gte is None or bus.shedding_level >= cond.shedding_level_gte,
        cond.actions_any is None or bool(bus.shedding_actions & set(cond.actions_any)),
        cond.language is None or bus.language == cond.language,
        cond.lookup is None or bus.lookup == cond.lookup,
        cond.status is None or (bus.customer is not None and bus.customer.status == cond.status),
        _day_ok(cond, now),
    ]
    return all(checks) and _var_ok(cond, bus)


def _day_ok(cond: Condition, now: datetime) -> bool:
    day = now.day
    if cond.day_of_month_from is not None and day < cond.day_of_month_from:
        return False
    if cond.day_of_month_to is not None and day > cond.day_of_month_to:
        return False
    if cond.last_days_of_month is not None:
        last = calendar.monthrange(now.year, now.month)[1]
        return day > last - cond.last_days_of_month
    return True


def _var_ok(cond: Condition, bus: DataBus) -> bool:
    if cond.var is None:
        return True
    value = bus.values().get(cond.var)
    if cond.present is not None and (value is not None) != cond.present:
        return False
    if cond.equals is not None and value != cond.equals and str(value) != str(cond.equals):
        return False
    return cond.matches is None or (
        value is not None and re.fullmatch(cond.matches, str(value)) is not None
    )

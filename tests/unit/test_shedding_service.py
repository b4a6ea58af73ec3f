"""The shedding service with the shipped configuration: on a month-end day a
standard caller is shed, exempt grades and tags keep level 0 (rule "exempt")."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agi_app.core.bus import DataBus
from agi_app.core.customer import Customer
from agi_app.core.routing.config import load_queues, load_service
from agi_app.core.shedding.load import LoadTracker, QueueLoad
from agi_app.core.shedding.rules import load_rules
from agi_app.service.shedding import SheddingService
from agi_app.settings import PROJECT_ROOT
from tests.fakes import FixedClock

CONFIG = PROJECT_ROOT / "config"
RULES = load_rules(CONFIG / "shedding.yaml")
POLICY = load_service(CONFIG / "service.yaml", load_queues(CONFIG / "queues.yaml"))
SHANGHAI = ZoneInfo(RULES.timezone)
MONTH_END = datetime(2030, 1, 30, 10, 0, tzinfo=SHANGHAI)  # 30 of 31: month_end holds
QUIET = datetime(2030, 1, 22, 10, 0, tzinfo=SHANGHAI)  # no calendar rule, no bill day near


def service(when: datetime, rules_active: frozenset[str] = frozenset()) -> SheddingService:
    tracker = LoadTracker(RULES, active=rules_active)
    return SheddingService(RULES, POLICY, FixedClock(when), tracker)


def bus(grade: str | None, tags: tuple[str, ...] = ()) -> DataBus:
    customer = (
        None
        if grade is None
        else Customer("+8613800138000", "张三", grade, tags=frozenset(tags), bill_day=None)
    )
    return DataBus("call-1", "13800138000", "10086", customer=customer)


def test_the_shipped_config_exempts_diamond_and_platinum() -> None:
    exempt = {g for g, p in POLICY.policy.items() if p.exempt_from_shedding}
    assert exempt == {"diamond", "platinum"} == set(RULES.exempt_grades)


@pytest.mark.parametrize("grade", [None, "standard", "silver", "gold"])
def test_on_a_month_end_day_other_callers_are_shed(grade: str | None) -> None:
    d = service(MONTH_END).decide(bus(grade))
    assert (d.level, d.rule) == (2, "month_end")
    assert d.actions == frozenset(RULES.levels[2])


@pytest.mark.parametrize("grade", ["diamond", "platinum"])
def test_on_the_same_day_exempt_grades_keep_level_0(grade: str) -> None:
    d = service(MONTH_END).decide(bus(grade))
    assert (d.level, d.actions, d.rule) == (0, frozenset(), "exempt")


@pytest.mark.parametrize("grade", ["diamond", "platinum"])
def test_exempt_grades_keep_level_0_under_the_heaviest_load(grade: str) -> None:
    overloaded = service(MONTH_END, frozenset({"overload", "no_agents_free"}))
    assert overloaded.decide(bus("standard")).level == 4
    d = overloaded.decide(bus(grade))
    assert (d.level, d.rule) == (0, "exempt")


@pytest.mark.parametrize("tag", ["vip_manager", "complaint_risk"])
def test_an_exempt_tag_exempts_a_standard_caller(tag: str) -> None:
    d = service(MONTH_END).decide(bus("standard", tags=(tag,)))
    assert (d.level, d.rule) == (0, "exempt")


def test_the_service_policy_alone_exempts_a_grade() -> None:
    """service.yaml's exempt_from_shedding holds even if shedding.yaml forgot the grade."""
    rules = RULES.model_copy(update={"exempt_grades": []})
    svc = SheddingService(rules, POLICY, FixedClock(MONTH_END), LoadTracker(rules))
    assert (svc.decide(bus("diamond")).level, svc.decide(bus("diamond")).rule) == (0, "exempt")
    assert svc.decide(bus("standard")).rule == "month_end"


def test_on_a_quiet_day_nobody_is_shed() -> None:
    for grade in (None, "standard", "diamond"):
        d = service(QUIET).decide(bus(grade))
        assert d.level == 0 and d.rule in ("", "exempt")


def test_the_clock_decides_not_the_wall() -> None:
    clock = FixedClock(QUIET)
    svc = SheddingService(RULES, POLICY, clock, LoadTracker(RULES))
    assert svc.decide(bus("standard")).level == 0
    clock.when = MONTH_END
    assert svc.decide(bus("standard")).rule == "month_end"


def test_live_load_feeds_the_decision() -> None:
    tracker = LoadTracker(RULES)
    svc = SheddingService(RULES, POLICY, FixedClock(QUIET), tracker)
    tracker.update(QUIET, {"support": QueueLoad(waiting=6, available=0, logged_in=2)})
    d = svc.decide(bus("standard"))
    assert d.level == 3 and d.rule in ("queue_busy", "no_agents_free")
    assert svc.decide(bus("diamond")).rule == "exempt"

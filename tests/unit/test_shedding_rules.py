"""Load shedding: the pure decision over calendar, load and customer, and the
load tracker's hysteresis. Tables; ``now`` is always given."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agi_app.core.customer import Customer
from agi_app.core.shedding.load import LoadTracker, QueueLoad
from agi_app.core.shedding.rules import SheddingRules, decide, load_rules
from agi_app.settings import PROJECT_ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
SHIPPED = load_rules(PROJECT_ROOT / "config" / "shedding.yaml")
LEVELS = {
    1: ["self_service_first"],
    2: ["self_service_first", "reorder_menus"],
    3: ["self_service_first", "reorder_menus", "offer_callback"],
    4: ["self_service_first", "reorder_menus", "offer_callback", "no_cross_sell"],
}


def rules(*rule_list: dict[str, Any], **extra: Any) -> SheddingRules:
    return SheddingRules.model_validate({"levels": LEVELS, "rules": list(rule_list), **extra})


def local(y: int, m: int, d: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=SHANGHAI)


def customer(grade: str = "standard", bill_day: int = 1, tags: tuple[str, ...] = ()) -> Customer:
    return Customer("+8613800138000", "张三", grade, bill_day=bill_day, tags=frozenset(tags))


MONTH_EDGES = rules(
    {"name": "month_start", "level": 2, "when": {"calendar": {"first_days": 3}}},
    {"name": "month_end", "level": 3, "when": {"calendar": {"last_days": 3}}},
)


@pytest.mark.parametrize(
    ("now", "level", "rule"),
    [
        # 31-day January: the last 3 days are 29, 30, 31
        (local(2027, 1, 28), 0, ""),
        (local(2027, 1, 29), 3, "month_end"),
        (local(2027, 1, 31, 23, 59), 3, "month_end"),
        # 30-day April: 28, 29, 30
        (local(2027, 4, 27), 0, ""),
        (local(2027, 4, 28), 3, "month_end"),
        # 28-day February 2027: 26, 27, 28
        (local(2027, 2, 25), 0, ""),
        (local(2027, 2, 26), 3, "month_end"),
        # 29-day February 2028 (leap): 27, 28, 29
        (local(2028, 2, 26), 0, ""),
        (local(2028, 2, 27), 3, "month_end"),
        (local(2028, 2, 29), 3, "month_end"),
        # the first 3 days
        (local(2027, 3, 1, 0, 0), 2, "month_start"),
        (local(2027, 3, 3, 23, 59), 2, "month_start"),
        (local(2027, 3, 4, 0, 0), 0, ""),
        # instants in UTC: the rules' time zone (Asia/Shanghai, UTC+8) decides the day
        (datetime(2027, 1, 31, 16, 30, tzinfo=UTC), 2, "month_start"),  # 1 Feb 00:30 local
        (datetime(2027, 1, 31, 15, 59, tzinfo=UTC), 3, "month_end"),  # 31 Jan 23:59 local
        (datetime(2027, 2, 28, 16, 0, tzinfo=UTC), 2, "month_start"),  # 1 Mar 00:00 local
        (datetime(2027, 3, 3, 16, 0, tzinfo=UTC), 0, ""),  # 4 Mar 00:00 local
        (datetime(2028, 2, 26, 16, 0, tzinfo=UTC), 3, "month_end"),  # 27 Feb 2028 local
    ],
)
def test_month_boundaries(now: datetime, level: int, rule: str) -> None:
    decision = decide(now, MONTH_EDGES, frozenset(), None)
    assert (decision.level, decision.rule) == (level, rule)
    assert decision.actions == frozenset(LEVELS.get(level, []))


@pytest.mark.parametrize(
    ("now", "level", "rule"),
    [
        (local(2027, 3, 15), 0, ""),
        (local(2027, 3, 1), 2, "month_start"),
        (local(2027, 3, 4), 0, ""),
        (local(2027, 2, 26), 2, "month_end"),
        (local(2027, 2, 25), 0, ""),
        (local(2028, 2, 27), 2, "month_end"),
        (local(2028, 2, 26), 0, ""),
        (local(2027, 2, 6), 2, "holiday"),
        (local(2027, 2, 7), 0, ""),
        (datetime(2027, 2, 5, 16, 0, tzinfo=UTC), 2, "holiday"),  # 6 Feb 00:00 local
        (datetime(2027, 2, 5, 15, 59, tzinfo=UTC), 0, ""),  # 5 Feb 23:59 local
        (datetime(2027, 1, 31, 16, 30, tzinfo=UTC), 2, "month_start"),  # 1 Feb local
    ],
)
def test_shipped_calendar_rules(now: datetime, level: int, rule: str) -> None:
    decision = decide(now, SHIPPED, frozenset(), None)
    assert (decision.level, decision.rule) == (level, rule)


BILL_DAY = [{"name": "bill_day", "level": 1, "when": {"calendar": {"near_bill_day": 0}}}]


@pytest.mark.parametrize(
    ("bill_day", "near", "now", "level"),
    [
        # bill day 31 falls on the last day of shorter months
        (31, 0, local(2027, 4, 30), 1),
        (31, 0, local(2027, 4, 29), 0),
        (31, 0, local(2027, 2, 28), 1),
        (31, 0, local(2028, 2, 28), 0),
        (31, 0, local(2028, 2, 29), 1),
        (30, 0, local(2027, 2, 28), 1),
        (31, 0, local(2027, 1, 31), 1),
        (15, 1, local(2027, 4, 14), 1),
        (15, 1, local(2027, 4, 16), 1),
        (15, 1, local(2027, 4, 17), 0),
        (31, 1, local(2027, 4, 29), 1),
        # within a day of the bill day across the month boundary
        (1, 1, local(2027, 1, 31), 1),  # bill day tomorrow, 1 Feb
        (31, 1, local(2027, 2, 1), 1),  # bill day yesterday, 31 Jan
        (1, 2, local(2027, 2, 27), 1),  # 1 Mar is two days away after a 28-day Feb
        (1, 2, local(2028, 2, 27), 0),  # and three days away in a leap year
    ],
)
def test_near_bill_day(bill_day: int, near: int, now: datetime, level: int) -> None:
    r = rules({"name": "bill_day", "level": 1, "when": {"calendar": {"near_bill_day": near}}})
    decision = decide(now, r, frozenset(), customer(bill_day=bill_day))
    assert decision.level == level


def test_near_bill_day_needs_a_known_customer() -> None:
    assert decide(local(2027, 4, 1), rules(*BILL_DAY), frozenset(), None).level == 0


@pytest.mark.parametrize(
    ("who", "load_active", "level", "rule"),
    [
        (customer("diamond"), frozenset({"overload"}), 0, "exempt"),
        (customer("platinum"), frozenset({"overload"}), 0, "exempt"),
        (customer("standard", tags=("complaint_risk",)), frozenset({"overload"}), 0, "exempt"),
        (customer("gold", tags=("vip_manager", "5g")), frozenset(), 0, "exempt"),
        (customer("gold", tags=("5g",)), frozenset({"overload"}), 4, "overload"),
        (None, frozenset({"overload"}), 4, "overload"),
    ],
)
def test_exempt_grades_and_tags(
    who: Customer | None, load_active: frozenset[str], level: int, rule: str
) -> None:
    # on a month-end day with every load rule active
    decision = decide(local(2027, 1, 30), SHIPPED, load_active, who)
    assert (decision.level, decision.rule) == (level, rule)
    if rule == "exempt":
        assert decision.actions == frozenset()


@pytest.mark.parametrize(
    ("who", "level"),
    [
        (None, 2),  # unknown callers are treated as standard
        (customer("standard"), 2),
        (customer("gold"), 0),
        (customer("bronze"), 0),  # a grade the rule does not name
    ],
)
def test_unknown_customer_is_standard(who: Customer | None, level: int) -> None:
    r = rules({"name": "standard_peak", "level": 2, "when": {"customer": {"grades": ["standard"]}}})
    assert decide(local(2027, 3, 15), r, frozenset(), who).level == level


def test_customer_tags_rule_does_not_match_unknown_callers() -> None:
    r = rules({"name": "iot", "level": 1, "when": {"customer": {"tags_any": ["iot"]}}})
    assert decide(local(2027, 3, 15), r, frozenset(), None).level == 0
    assert decide(local(2027, 3, 15), r, frozenset(), customer(tags=("iot",))).level == 1


@pytest.mark.parametrize(
    ("now", "load_active", "level", "rule"),
    [
        (local(2027, 3, 15), frozenset(), 0, ""),
        # a load rule counts only while the tracker holds it active
        (local(2027, 3, 15), frozenset({"queue_busy"}), 3, "queue_busy"),
        (local(2027, 3, 15), frozenset({"long_holds", "queue_busy"}), 3, "queue_busy"),
        (local(2027, 3, 15), frozenset({"queue_busy", "overload"}), 4, "overload"),
        # a calendar rule's name in load_active changes nothing
        (local(2027, 3, 15), frozenset({"month_end"}), 0, ""),
        # the highest level wins, and its rule is named
        (local(2027, 1, 30), frozenset(), 2, "month_end"),
        (local(2027, 1, 30), frozenset({"long_holds"}), 3, "long_holds"),
        (local(2027, 1, 2), frozenset({"overload"}), 4, "overload"),
    ],
)
def test_load_rules_and_highest_level(
    now: datetime, load_active: frozenset[str], level: int, rule: str
) -> None:
    # bill day 30: the bill_day rule (level 1) also holds on 30 January
    decision = decide(now, SHIPPED, load_active, customer("gold", bill_day=30))
    assert (decision.level, decision.rule) == (level, rule)
    assert decision.actions == frozenset(SHIPPED.levels.get(level, []))


def test_bill_day_alone_is_level_one() -> None:
    decision = decide(local(2027, 3, 15), SHIPPED, frozenset(), customer("gold", bill_day=16))
    assert (decision.level, decision.rule) == (1, "bill_day")
    assert decision.actions == frozenset({"self_service_first"})


# --- hysteresis -----------------------------------------------------------------------

T0 = local(2027, 3, 15, 10, 0)
Seq = list[tuple[float, QueueLoad, bool]]  # (seconds after T0, snapshot, active after it)


def waiting(n: int) -> QueueLoad:
    return QueueLoad(waiting=n, available=3, logged_in=4)


def free(n: int) -> QueueLoad:
    return QueueLoad(waiting=0, available=n, logged_in=4)


BUSY = {"queue": "support", "waiting_gte": 10}  # relaxed: 8 (margin 0.2)
NO_AGENTS = {"queue": "support", "available_lte": 0}  # relaxed: 1


@pytest.mark.parametrize(
    ("when", "seq"),
    [
        pytest.param(BUSY, [(0, waiting(9), False), (1, waiting(10), True)], id="on at threshold"),
        pytest.param(
            BUSY,
            [
                (0, waiting(10), True),
                (1, waiting(9), True),
                (100, waiting(8), True),
                (1000, waiting(8), True),
            ],
            id="stays on within the margin",
        ),
        pytest.param(
            BUSY,
            [
                (0, waiting(10), True),
                (1, waiting(7), True),
                (30, waiting(7), True),
                (31, waiting(7), False),
            ],
            id="off after hold_s below the relaxed threshold",
        ),
        pytest.param(
            BUSY,
            [
                (0, waiting(10), True),
                (1, waiting(0), True),
                (20, waiting(8), True),
                (21, waiting(7), True),
                (50, waiting(3), True),
                (51, waiting(7), False),
            ],
            id="the hold restarts when load comes back within the margin",
        ),
        pytest.param(
            BUSY,
            [
                (0, waiting(10), True),
                (1, waiting(0), True),
                (31, waiting(0), False),
                (32, waiting(9), False),
                (33, waiting(8), False),
                (34, waiting(10), True),
            ],
            id="once off, on again only at the threshold",
        ),
        pytest.param(
            NO_AGENTS,
            [
                (0, free(1), False),
                (1, free(0), True),
                (2, free(1), True),
                (500, free(1), True),
                (501, free(2), True),
                (531, free(2), False),
            ],
            id="available_lte eases by one agent",
        ),
        pytest.param(
            BUSY,
            [(0, QueueLoad(), False)],
            id="an empty queue is not busy",
        ),
    ],
)
def test_load_tracker_hysteresis(when: dict[str, Any], seq: Seq) -> None:
    tracker = LoadTracker(
        rules(
            {"name": "busy", "level": 3, "when": {"load": when}},
            hysteresis={"margin": 0.2, "hold_s": 30},
        )
    )
    for seconds, load, active in seq:
        got = tracker.update(T0 + timedelta(seconds=seconds), {"support": load})
        assert (seconds, "busy" in got) == (seconds, active)
        assert tracker.active == got


@pytest.mark.parametrize(
    ("low", "high", "period_s"),
    [(9, 10, 1), (7, 10, 20), (8, 12, 29), (0, 10, 25)],
)
def test_load_tracker_does_not_flap(low: int, high: int, period_s: int) -> None:
    """Load oscillating around the threshold turns the rule on once and keeps it
    on, as long as it comes back to the threshold within hold_s."""
    tracker = LoadTracker(
        rules(
            {"name": "busy", "level": 3, "when": {"load": BUSY}},
            hysteresis={"margin": 0.2, "hold_s": 30},
        )
    )
    states = []
    for i in range(200):
        now = T0 + timedelta(seconds=i * period_s)
        states.append("busy" in tracker.update(now, {"support": waiting(high if i % 2 else low)}))
    changes = sum(1 for a, b in itertools.pairwise(states) if a != b)
    assert changes == 1
    assert states[-1] is True


def test_load_tracker_feeds_decide() -> None:
    tracker = LoadTracker(SHIPPED)
    active = tracker.update(T0, {"support": QueueLoad(waiting=20, longest_hold_s=95, available=0)})
    assert active == {"queue_busy", "long_holds", "no_agents_free", "overload"}
    decision = decide(T0, SHIPPED, active, customer("gold", bill_day=1))
    assert (decision.level, decision.rule) == (4, "overload")
    # below overload's relaxed threshold (16): it stays on for hold_s, then goes
    active = tracker.update(T0 + timedelta(seconds=1), {"support": waiting(5)})
    assert "overload" in active
    active = tracker.update(T0 + timedelta(seconds=31), {"support": waiting(5)})
    assert active == {"queue_busy"}
    decision = decide(T0, SHIPPED, active, customer("gold", bill_day=1))
    assert (decision.level, decision.rule) == (3, "queue_busy")

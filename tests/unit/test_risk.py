"""Complaint risk: the score (a table), its reasons, the deadline, the routing effect."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from agi_app.core.bus import DataBus
from agi_app.core.config import ConfigError
from agi_app.core.customer import Customer
from agi_app.core.risk import CallerHistory, RiskConfig, load_risk, score
from agi_app.core.routing.config import load_queues, load_service
from agi_app.core.routing.route import route
from agi_app.core.shedding.load import LoadTracker
from agi_app.core.shedding.rules import load_rules
from agi_app.service.identify import RiskCheck, identify
from agi_app.service.shedding import SheddingService
from agi_app.settings import PROJECT_ROOT
from tests.fakes import FixedClock

CONFIG = PROJECT_ROOT / "config"
SHIPPED = load_risk(CONFIG / "risk.yaml")
CFG = RiskConfig(
    threshold=5,
    weights={"calls_24h": 2, "abandoned_in_queue": 2, "invalid_last": 0.5, "complaint_tag": 5},
    caps={"calls_24h": 3},
)


@pytest.mark.parametrize(
    ("history", "tags", "expected", "reasons", "at_risk"),
    [
        (CallerHistory(), frozenset(), 0.0, (), False),
        (CallerHistory(calls_24h=1), frozenset(), 2.0, ("calls_24h=1 (+2.0)",), False),
        (
            CallerHistory(calls_24h=3, abandoned_in_queue=1),
            frozenset(),
            8.0,
            ("calls_24h=3 (+6.0)", "abandoned_in_queue=1 (+2.0)"),
            True,
        ),
        (CallerHistory(calls_24h=9), frozenset(), 6.0, ("calls_24h=9 (+6.0)",), True),  # capped
        (CallerHistory(invalid_last=2), frozenset({"complaint_risk"}), 6.0, None, True),
        (CallerHistory(calls_7d=40), frozenset(), 0.0, (), False),  # no weight: no effect
    ],
)
def test_score_table(
    history: CallerHistory,
    tags: frozenset[str],
    expected: float,
    reasons: tuple[str, ...] | None,
    at_risk: bool,
) -> None:
    risk = score(history, tags, CFG)
    assert (risk.score, risk.at_risk) == (expected, at_risk)
    if reasons is not None:
        assert risk.reasons == reasons


def test_reasons_are_the_top_contributions_highest_first() -> None:
    history = CallerHistory(calls_24h=2, calls_7d=6, invalid_last=4, abandoned_in_queue=1)
    risk = score(history, frozenset({"complaint_risk"}), SHIPPED)
    assert risk.reasons[0].startswith("complaint_tag=1") and len(risk.reasons) == 3


def test_unknown_signals_in_the_config_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "risk.yaml"
    bad.write_text("weights: {calls_24h: 1, vip_anger: 3}\n")
    with pytest.raises(ConfigError, match=r"risk.yaml.*unknown signals \['vip_anger'\]"):
        load_risk(bad)


class Store:
    async def lookup(self, number_e164: str) -> Customer | None:
        return Customer(number_e164, "张三", "standard")


class History:
    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        self.delay_s, self.fail = delay_s, fail

    async def history(self, number_e164: str, now: dt.datetime) -> CallerHistory:
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise ConnectionError("database away")
        return CallerHistory(calls_24h=3, abandoned_in_queue=1)


async def test_identify_scores_within_the_deadline() -> None:
    who = await identify(Store(), "13800000005", 0.2, RiskCheck(History(), CFG))
    assert who.status == "ok" and who.risk is not None and who.risk.at_risk


@pytest.mark.parametrize(
    "history", [History(delay_s=0.5), History(fail=True)], ids=["late", "down"]
)
async def test_no_score_rather_than_a_late_or_failed_one(history: History) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    who = await identify(Store(), "13800000005", 0.1, RiskCheck(history, CFG))
    assert loop.time() - t0 < 0.3  # the call never waits past the deadline
    assert who.status == "ok" and who.customer is not None and who.risk is None


async def test_junk_caller_is_not_scored() -> None:
    who = await identify(Store(), "anonymous", 0.1, RiskCheck(History(), CFG))
    assert (who.status, who.risk) == ("unknown", None)


def test_at_risk_routing_is_data_in_service_yaml() -> None:
    queues = load_queues(CONFIG / "queues.yaml")
    policy = load_service(CONFIG / "service.yaml", queues)
    now = dt.datetime(2026, 12, 10, 10, 0, tzinfo=dt.UTC)
    customer = Customer("+8613800000005", "x", "standard")
    plain = route(customer, now, policy, queues)
    risky = route(customer, now, policy, queues, at_risk=True)
    assert risky.priority == plain.priority + policy.complaint_risk.priority_boost
    assert risky.exempt_from_shedding and not plain.exempt_from_shedding
    assert "complaint risk" in risky.reason
    # and the shedding decision on a month-end day keeps such a caller off shedding
    month_end = dt.datetime(2026, 12, 30, 10, 0, tzinfo=dt.UTC)
    rules = load_rules(CONFIG / "shedding.yaml")
    svc = SheddingService(rules, policy, FixedClock(month_end), LoadTracker(rules))
    bus = DataBus("c", "13800000005", "10086", customer.number, customer, "ok")
    assert svc.decide(bus).level > 0
    bus.at_risk = True
    assert (svc.decide(bus).level, svc.decide(bus).rule) == (0, "exempt: complaint risk")


async def test_with_risk_routing_off_the_score_is_kept_but_nobody_is_at_risk() -> None:
    who = await identify(Store(), "13800000005", 0.2, RiskCheck(History(), CFG, routing=False))
    assert who.risk is not None and who.risk.score == 8.0 and not who.risk.at_risk


class Joint:
    """The customer and the history in one read (CustomerWithHistory)."""

    def __init__(self, delay_s: float = 0.0, fail: bool = False, known: bool = True) -> None:
        self.delay_s, self.fail, self.known = delay_s, fail, known
        self.reads: list[str] = []

    async def lookup_with_history(
        self, number_e164: str, now: dt.datetime
    ) -> tuple[Customer | None, CallerHistory]:
        self.reads.append(number_e164)
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise ConnectionError("database away")
        customer = Customer(number_e164, "张三", "standard") if self.known else None
        return customer, CallerHistory(calls_24h=3, abandoned_in_queue=1)


class NoStore:
    """With a joint read, the plain store is never asked."""

    async def lookup(self, number_e164: str) -> Customer | None:
        raise AssertionError("the joint read is the one round trip")


@pytest.mark.parametrize("known", [True, False], ids=["customer", "not-in-crm"])
async def test_the_joint_read_gives_customer_and_score_in_one_round_trip(known: bool) -> None:
    joint = Joint(known=known)
    who = await identify(NoStore(), "13800000005", 0.2, RiskCheck(History(), CFG, joint=joint))
    assert joint.reads == ["+8613800000005"]
    assert who.status == ("ok" if known else "unknown")
    assert (who.customer is not None) == known
    assert who.risk is not None and who.risk.score == 8.0 and who.risk.at_risk


@pytest.mark.parametrize("joint", [Joint(delay_s=0.5), Joint(fail=True)], ids=["late", "down"])
async def test_a_late_or_failed_joint_read_is_lookup_failed_within_the_deadline(
    joint: Joint,
) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    who = await identify(NoStore(), "13800000005", 0.1, RiskCheck(History(), CFG, joint=joint))
    assert loop.time() - t0 < 0.3
    assert (who.status, who.customer, who.risk) == ("lookup_failed", None, None)


async def test_the_joint_read_keeps_routing_off() -> None:
    check = RiskCheck(History(), CFG, routing=False, joint=Joint())
    who = await identify(NoStore(), "13800000005", 0.2, check)
    assert who.risk is not None and who.risk.score == 8.0 and not who.risk.at_risk

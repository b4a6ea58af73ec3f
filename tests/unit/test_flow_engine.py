"""The flow engine node by node, through run_flow, with a scripted caller.

Flows are YAML written to tmp_path and loaded by the real loader; the call,
the prompt renderer and the clock are fakes at the edge (tests/fakes.py).
"""

from __future__ import annotations

import asyncio
import json
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, Field

from agi_app.core.bus import DataBus
from agi_app.core.callcontrol import DigitBuffer, QueueResult
from agi_app.core.customer import Customer
from agi_app.core.decisions import FlowOutcome
from agi_app.core.flows.loader import FlowSet, Known, load_flowset
from agi_app.core.flows.transactions import (
    TransactionError,
    TransactionRegistry,
    TransactionSpec,
    TxContext,
)
from agi_app.core.journey import CallStep, MemoryJourney
from agi_app.service.flows.engine import EngineDeps, Router, default_router, run_flow
from agi_app.service.flows.nodes_io import SELF_SERVICE_DONE
from tests.fakes import HANGUP, FakeCall, FakeRenderer, FixedClock, Transferred, When

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUEUES = {"support", "vip", "english"}


class CardArgs(BaseModel):
    card: str = Field(pattern=r"^\d{4}$")


class CardBalance(BaseModel):
    balance: str


async def card_balance(args: CardArgs, _ctx: TxContext) -> CardBalance:
    """Card 0000 is unknown, 0001 breaks the back end, 0002 never answers."""
    if args.card == "0000":
        raise TransactionError("no such card")
    if args.card == "0001":
        raise LookupError("back end bug")
    if args.card == "0002":
        await asyncio.Event().wait()
    return CardBalance(balance="12.50")


TX = TransactionRegistry([TransactionSpec("card_balance", CardArgs, CardBalance, card_balance)])


def write_flows(tmp_path: Path, *docs: str, **subst: object) -> FlowSet:
    """Write each YAML document (``$name`` filled from ``subst``) and load the set."""
    for i, doc in enumerate(docs):
        text = string.Template(doc).substitute({k: str(v) for k, v in subst.items()})
        (tmp_path / f"flow{i}.yaml").write_text(text, encoding="utf-8")
    flows, errors = load_flowset([tmp_path], Known(queues=QUEUES, transactions=TX))
    assert [str(e) for e in errors] == []
    assert flows is not None
    return flows


@dataclass
class Run:
    call: FakeCall
    bus: DataBus
    result: FlowOutcome
    renderer: FakeRenderer
    journey: MemoryJourney

    @property
    def texts(self) -> list[str]:
        return self.renderer.texts

    def steps(self, node_type: str | None = None) -> list[CallStep]:
        steps = [e for e in self.journey.events if isinstance(e, CallStep)]
        return [s for s in steps if node_type is None or s.node_type == node_type]


async def no_pool() -> None:
    return None


async def run(
    flows: FlowSet,
    call: FakeCall,
    *,
    bus: DataBus | None = None,
    now: datetime = datetime(2027, 3, 15, 10, 0, tzinfo=SHANGHAI),
    router: Router = default_router,
    max_steps: int = 500,
) -> Run:
    bus = bus or DataBus(call.call_id, call.caller, call.called)
    renderer, journey = FakeRenderer(), MemoryJourney()
    deps = EngineDeps(
        renderer=renderer,
        journey=journey,
        clock=FixedClock(now),
        transactions=TX,
        get_pool=no_pool,
        router=router,
        max_steps=max_steps,
    )
    async with asyncio.timeout(5):
        result = await run_flow(call, bus, flows, deps)
    return Run(call, bus, result, renderer, journey)


# --- menu ---------------------------------------------------------------------------

MENU = """
id: t
default: true
start: main
nodes:
  main:
    type: menu
    prompt: 主菜单
    choices: {"1": one, "2": two}
    timeout_s: 3
    max_retries: $retries
    invalid_prompt: 输入有误
    timeout_prompt: 没有听到
    on_failure: failed
  one: {type: hangup, outcome: one}
  two: {type: hangup, outcome: two}
  failed: {type: hangup, cause: 31, outcome: timeout}
"""
P, BAD_KEY, NO_KEY = "主菜单", "输入有误", "没有听到"
Script = list[tuple[When, int, str]]


@pytest.mark.parametrize(
    ("script", "outcome", "texts", "digits", "detail"),
    [
        ([("play", 1, "1")], "one", [P], "1", {"retries": 0, "invalid": 0, "timeouts": 0}),
        ([("play", 1, "2")], "two", [P], "2", {"retries": 0, "invalid": 0, "timeouts": 0}),
        # pressed while the menu waits, after the prompt ended
        ([("wait", 1, "1")], "one", [P], "1", {"retries": 0, "invalid": 0, "timeouts": 0}),
        # an invalid digit is counted and answered with the invalid prompt
        (
            [("play", 1, "7"), ("play", 3, "2")],
            "two",
            [P, BAD_KEY, P],
            "2",
            {"retries": 1, "invalid": 1, "timeouts": 0},
        ),
        # * repeats the menu and is not a failure
        (
            [("play", 1, "*"), ("play", 2, "1")],
            "one",
            [P, P],
            "1",
            {"retries": 0, "invalid": 0, "timeouts": 0},
        ),
        (
            [("play", 1, "*"), ("play", 2, "*"), ("play", 3, "*"), ("play", 4, "2")],
            "two",
            [P, P, P, P],
            "2",
            {"retries": 0, "invalid": 0, "timeouts": 0},
        ),
        # * repeats five times at most; the sixth is an invalid key
        (
            [("play", n, "*") for n in range(1, 7)] + [("play", 8, "2")],
            "two",
            [P] * 6 + [BAD_KEY, P],
            "2",
            {"retries": 1, "invalid": 1, "timeouts": 0},
        ),
        # invalid, timeout, invalid: three failures with max_retries 2
        (
            [("play", 1, "7"), ("play", 5, "9")],
            "timeout",
            [P, BAD_KEY, P, NO_KEY, P],
            "9",
            {"retries": 3, "invalid": 2, "timeouts": 1, "result": "failed"},
        ),
    ],
)
async def test_menu(
    tmp_path: Path,
    script: Script,
    outcome: str,
    texts: list[str],
    digits: str,
    detail: dict[str, Any],
) -> None:
    r = await run(write_flows(tmp_path, MENU, retries=2), FakeCall(script))
    assert r.result.outcome == outcome
    assert r.texts == texts
    [step] = r.steps("menu")
    assert (step.node, step.digits, step.detail) == ("main", digits, detail)


@pytest.mark.parametrize("retries", [0, 1, 2, 3])
async def test_menu_timeouts_retry_then_on_failure(tmp_path: Path, retries: int) -> None:
    r = await run(write_flows(tmp_path, MENU, retries=retries), FakeCall())
    assert r.result.outcome == "timeout"
    assert r.result.cause == r.call.hangup_cause == 31
    assert r.texts == [P, NO_KEY] * retries + [P]
    assert r.call.digits.timeouts == [3.0] * (retries + 1)
    [step] = r.steps("menu")
    assert step.detail == {
        "retries": retries + 1,
        "invalid": 0,
        "timeouts": retries + 1,
        "result": "failed",
    }


# --- barge-in -----------------------------------------------------------------------

INTRO_THEN_MENU = """
id: t
default: true
start: intro
nodes:
  intro:
    type: play
    prompts: [欢迎致电]
    barge_in: $barge_in
    next: main
  main:
    type: menu
    prompt: 主菜单
    choices: {"1": one, "2": two}
    on_failure: one
  one: {type: hangup, outcome: one}
  two: {type: hangup, outcome: two}
"""


@pytest.mark.parametrize(("barge_in", "intro_interrupted"), [("true", True), ("false", False)])
async def test_digit_during_intro_reaches_the_menu(
    tmp_path: Path, barge_in: str, intro_interrupted: bool
) -> None:
    """Pressed during the intro: barge-in stops it; without barge-in the digit is kept."""
    flows = write_flows(tmp_path, INTRO_THEN_MENU, barge_in=barge_in)
    r = await run(flows, FakeCall([("play", 1, "2")]))
    intro, menu = r.call.plays[:2]
    assert intro.media == ["fake/zh/欢迎致电"]
    assert intro.barge_in is (barge_in == "true")
    assert intro.interrupted is intro_interrupted
    # the digit is still pending when the menu prompt starts: it stops at once
    assert menu.barge_in and menu.interrupted
    assert r.result.outcome == "two"
    assert r.call.digits.timeouts == []


# --- input --------------------------------------------------------------------------

INPUT = """
id: t
default: true
start: card
nodes:
  card:
    type: input
    prompt: 请输入卡号
    store_as: card
    min_length: 2
    max_length: 6
    pattern: '[1-9][0-9]*'
    first_timeout_s: 7
    inter_digit_timeout_s: 3
    max_retries: 2
    invalid_prompt: 卡号有误
    next: got
    on_failure: failed
  got: {type: hangup, outcome: got}
  failed: {type: hangup, outcome: failed}
"""
ASK, BAD = "请输入卡号", "卡号有误"


@pytest.mark.parametrize(
    ("script", "stored", "texts", "timeouts"),
    [
        ([("play", 1, "1234#")], "1234", [ASK], []),
        ([("play", 1, "12#")], "12", [ASK], []),
        # no terminator: the inter-digit timeout ends the input
        ([("play", 1, "1234")], "1234", [ASK], [3.0]),
        # typed while the node waits for the first digit
        ([("wait", 1, "98#")], "98", [ASK], []),
        # max_length reached: no terminator needed (a short wait for one to swallow)
        ([("play", 1, "123456")], "123456", [ASK], [1.0]),
        ([("play", 1, "123456#")], "123456", [ASK], []),
        # too short, then right
        ([("play", 1, "1#"), ("play", 3, "1234#")], "1234", [ASK, BAD, ASK], []),
        # only the terminator: empty, too short
        ([("play", 1, "#"), ("play", 3, "55#")], "55", [ASK, BAD, ASK], []),
        # pattern refuses a leading zero, then right
        ([("play", 1, "0123#"), ("play", 3, "9123#")], "9123", [ASK, BAD, ASK], []),
        # three failures: too short, bad pattern, nothing at all
        ([("play", 1, "1#"), ("play", 3, "01#")], None, [ASK, BAD, ASK, BAD, ASK], [7.0]),
        ([], None, [ASK, BAD, ASK, BAD, ASK], [7.0, 7.0, 7.0]),
    ],
)
async def test_input(
    tmp_path: Path, script: Script, stored: str | None, texts: list[str], timeouts: list[float]
) -> None:
    r = await run(write_flows(tmp_path, INPUT), FakeCall(script))
    assert r.texts == texts
    assert r.call.digits.timeouts == timeouts
    [step] = r.steps("input")
    attempts = (len(texts) + 1) // 2
    if stored is None:
        assert r.result.outcome == "failed"
        assert "card" not in r.bus.inputs
        assert step.detail == {"attempts": 3, "result": "failed"}
    else:
        assert r.result.outcome == "got"
        assert r.bus.inputs["card"] == stored
        assert (step.digits, step.detail) == (stored, {"attempts": attempts})


CARD_THEN_PROMPT = """
id: t
default: true
start: card
nodes:
  card:
    type: input
    prompt: 请输入银行卡号后四位，以井号键结束。
    store_as: card
    min_length: 4
    max_length: 4
    next: confirm
    on_failure: bye
  confirm:
    type: play
    prompts: ["您输入的是{card:digits}。"]
    next: bye
  bye: {type: hangup}
"""


@pytest.mark.parametrize(
    ("keys", "left_over", "timeouts"),
    [("1234#", False, []), ("1234", False, [1.0]), ("12345", True, [])],
)
async def test_full_length_input_swallows_the_terminator(
    tmp_path: Path, keys: str, left_over: bool, timeouts: list[float]
) -> None:
    """The caller does as told: four digits, then #. The # must not barge in on
    the next prompt; a fifth digit is no terminator and is kept."""
    r = await run(write_flows(tmp_path, CARD_THEN_PROMPT), FakeCall([("play", 1, keys)]))
    assert r.bus.inputs["card"] == "1234"
    confirm = r.call.plays[1]
    assert confirm.media == ["fake/zh/您输入的是一二三四。"]
    assert confirm.interrupted is left_over
    assert list(r.call.digits.buffer) == (["5"] if left_over else [])
    assert r.call.digits.timeouts == timeouts


# --- transaction --------------------------------------------------------------------

TRANSACTION = """
id: t
default: true
start: card
nodes:
  card:
    type: input
    prompt: 请输入卡号
    store_as: card
    max_length: 8
    next: lookup
    on_failure: sorry
  lookup:
    type: transaction
    name: card_balance
    args: {card: "{card}"}
    timeout_s: 0.05
    on_success: say
    on_failure: sorry
  say:
    type: play
    prompts: ["余额{balance:amount}"]
    next: bye
  bye: {type: hangup}
  sorry: {type: hangup, outcome: tx_failed}
"""


async def test_transaction_success_stores_result_and_fills_prompt(tmp_path: Path) -> None:
    r = await run(write_flows(tmp_path, TRANSACTION), FakeCall([("play", 1, "1234#")]))
    assert r.result.outcome == "completed"
    assert r.bus.results["card_balance"] == {"balance": "12.50"}
    assert r.bus.vars[SELF_SERVICE_DONE] is True
    said = r.texts[-1]
    assert said.startswith("余额") and "元" in said
    assert said == "余额十二元五角"
    [step] = r.steps("transaction")
    assert step.detail == {"name": "card_balance", "ok": True}


@pytest.mark.parametrize(
    ("card", "error"),
    [
        ("0000", "no such card"),
        ("0001", "LookupError"),  # a broken back end does not drop the call
        ("0002", ""),  # no answer within the node's timeout_s
        ("12", "card_balance: bad arguments: String should match pattern '^\\d{4}$'"),
    ],
)
async def test_transaction_failure_takes_on_failure(tmp_path: Path, card: str, error: str) -> None:
    r = await run(write_flows(tmp_path, TRANSACTION), FakeCall([("play", 1, card + "#")]))
    assert r.result.outcome == "tx_failed"
    assert r.bus.results == {}
    assert SELF_SERVICE_DONE not in r.bus.vars
    [step] = r.steps("transaction")
    assert step.detail == {"name": "card_balance", "ok": False, "error": error}


# --- branch -------------------------------------------------------------------------

BRANCH = """
id: t
default: true
start: check
nodes:
  check:
    type: branch
    cases:
      - when: $when
        goto: matched
    default: other
  matched: {type: hangup, outcome: matched}
  other: {type: hangup, outcome: other}
"""
GOLD = Customer("+8613800138000", "张三", "gold", tags=frozenset({"5g"}))
SUSPENDED = Customer("+8613800138001", "李四", "silver", status="suspended")
PEAK = frozenset({"self_service_first", "reorder_menus", "offer_callback"})


def day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("when", "customer", "actions", "now", "expected"),
    [
        ({"grade_in": ["gold", "silver"]}, GOLD, frozenset(), day(2027, 3, 1), "matched"),
        ({"grade_in": ["gold"]}, None, frozenset(), day(2027, 3, 1), "other"),
        ({"grade_in": ["gold"]}, SUSPENDED, frozenset(), day(2027, 3, 1), "other"),
        ({"tags_any": ["5g", "iot"]}, GOLD, frozenset(), day(2027, 3, 1), "matched"),
        ({"status": "suspended"}, SUSPENDED, frozenset(), day(2027, 3, 1), "matched"),
        ({"status": "suspended"}, GOLD, frozenset(), day(2027, 3, 1), "other"),
        ({"status": "suspended"}, None, frozenset(), day(2027, 3, 1), "other"),
        ({"actions_any": ["offer_callback"]}, None, PEAK, day(2027, 3, 1), "matched"),
        (
            {"actions_any": ["offer_callback"]},
            None,
            frozenset({"self_service_first"}),
            day(2027, 3, 1),
            "other",
        ),
        ({"lookup": "unknown"}, None, frozenset(), day(2027, 3, 1), "matched"),
        # last 3 days: 28-day Feb 2027, 29-day Feb 2028, 30-day April, 31-day January
        ({"last_days_of_month": 3}, None, frozenset(), day(2027, 2, 25), "other"),
        ({"last_days_of_month": 3}, None, frozenset(), day(2027, 2, 26), "matched"),
        ({"last_days_of_month": 3}, None, frozenset(), day(2028, 2, 26), "other"),
        ({"last_days_of_month": 3}, None, frozenset(), day(2028, 2, 27), "matched"),
        ({"last_days_of_month": 3}, None, frozenset(), day(2027, 4, 27), "other"),
        ({"last_days_of_month": 3}, None, frozenset(), day(2027, 4, 28), "matched"),
        ({"last_days_of_month": 3}, None, frozenset(), day(2027, 1, 28), "other"),
        ({"last_days_of_month": 3}, None, frozenset(), day(2027, 1, 31), "matched"),
        ({"last_days_of_month": 1}, None, frozenset(), day(2028, 2, 29), "matched"),
        (
            {"day_of_month_from": 1, "day_of_month_to": 3},
            None,
            frozenset(),
            day(2027, 3, 3),
            "matched",
        ),
        (
            {"day_of_month_from": 1, "day_of_month_to": 3},
            None,
            frozenset(),
            day(2027, 3, 4),
            "other",
        ),
        (
            {"grade_in": ["gold"], "last_days_of_month": 3},
            GOLD,
            frozenset(),
            day(2027, 2, 27),
            "matched",
        ),
        (
            {"grade_in": ["gold"], "last_days_of_month": 3},
            GOLD,
            frozenset(),
            day(2027, 2, 25),
            "other",
        ),
    ],
)
async def test_branch(
    tmp_path: Path,
    when: dict[str, Any],
    customer: Customer | None,
    actions: frozenset[str],
    now: datetime,
    expected: str,
) -> None:
    flows = write_flows(tmp_path, BRANCH, when=json.dumps(when))
    call = FakeCall()
    bus = DataBus(
        call.call_id, call.caller, call.called, customer=customer, shedding_actions=actions
    )
    r = await run(flows, call, bus=bus, now=now)
    assert r.result.outcome == expected
    [step] = r.steps("branch")
    assert step.detail == {"case": 0 if expected == "matched" else "default"}


# --- dynamic menu -------------------------------------------------------------------

DYNAMIC = """
id: t
default: true
start: main
nodes:
  main:
    type: dynamic_menu
    intro: 请选择
    items:
      - {label: 人工服务, target: agent, kind: agent}
      - {label: 五G套餐, target: promo, kind: cross_sell}
      - {label: 话费查询, target: balance, kind: self_service}
      - {label: 账单查询, target: bill, kind: self_service}
      - {label: 金卡专享, target: gold, kind: self_service, when: {grade_in: [gold]}}
    max_retries: 0
    on_failure: agent
  agent: {type: hangup, outcome: agent}
  promo: {type: hangup, outcome: promo}
  balance: {type: hangup, outcome: balance}
  bill: {type: hangup, outcome: bill}
  gold: {type: hangup, outcome: gold}
"""
LABELS = {
    "agent": "人工服务",
    "promo": "五G套餐",
    "balance": "话费查询",
    "bill": "账单查询",
    "gold": "金卡专享",
}
REORDER, NO_CROSS = "reorder_menus", "no_cross_sell"


@pytest.mark.parametrize(
    ("actions", "attempted", "customer", "order"),
    [
        (set(), False, None, ["agent", "promo", "balance", "bill"]),
        (set(), False, GOLD, ["agent", "promo", "balance", "bill", "gold"]),
        # self-service first; agents hidden until a self-service try
        ({REORDER}, False, None, ["balance", "bill", "promo"]),
        ({REORDER}, True, None, ["balance", "bill", "agent", "promo"]),
        ({REORDER}, False, GOLD, ["balance", "bill", "gold", "promo"]),
        ({NO_CROSS}, False, None, ["agent", "balance", "bill"]),
        ({REORDER, NO_CROSS}, False, None, ["balance", "bill"]),
        ({REORDER, NO_CROSS}, True, None, ["balance", "bill", "agent"]),
        (
            {"self_service_first", "offer_callback"},
            False,
            None,
            ["agent", "promo", "balance", "bill"],
        ),
    ],
)
async def test_dynamic_menu_order_under_shedding(
    tmp_path: Path,
    actions: set[str],
    attempted: bool,
    customer: Customer | None,
    order: list[str],
) -> None:
    flows = write_flows(tmp_path, DYNAMIC)
    last = str(len(order))
    call = FakeCall([("play", 1, last)])
    bus = DataBus(
        call.call_id,
        call.caller,
        call.called,
        customer=customer,
        shedding_actions=frozenset(actions),
    )
    if attempted:
        bus.vars[SELF_SERVICE_DONE] = True
    r = await run(flows, call, bus=bus)
    assert r.bus.vars["menu_order"] == order
    assert r.texts == ["请选择"] + [f"按{n}，{LABELS[t]}。" for n, t in enumerate(order, 1)]
    # digit n goes to the n-th item as spoken
    assert r.result.outcome == order[-1]
    [step] = r.steps("dynamic_menu")
    assert step.digits == last


@pytest.mark.parametrize(("actions", "digit"), [(set(), "5"), ({REORDER}, "4")])
async def test_dynamic_menu_digit_past_the_items_is_invalid(
    tmp_path: Path, actions: set[str], digit: str
) -> None:
    call = FakeCall([("play", 1, digit)])
    bus = DataBus(call.call_id, call.caller, call.called, shedding_actions=frozenset(actions))
    r = await run(write_flows(tmp_path, DYNAMIC), call, bus=bus)
    assert r.result.outcome == "agent"  # on_failure
    [step] = r.steps("dynamic_menu")
    assert step.detail["invalid"] == 1
    assert step.detail["result"] == "failed"


# --- transfer -----------------------------------------------------------------------

TRANSFER = """
id: t
default: true
start: to_agent
nodes:
  to_agent:
    type: transfer
    queue: support
    timeout_s: 30
    $priority
    announce: 正在为您转接
    on_status: {ANSWERED: bye, TIMEOUT: busy, default: sorry}
  bye: {type: hangup}
  busy: {type: hangup, cause: 17, outcome: no_agent}
  sorry: {type: hangup, outcome: sorry}
"""


class RecordingRouter:
    def __init__(self, answer: tuple[str, int]) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []  # (call id, requested queue)

    def __call__(self, bus: DataBus, requested_queue: str) -> tuple[str, int]:
        self.asked.append((bus.call_id, requested_queue))
        return self.answer


@pytest.mark.parametrize(
    ("result", "outcome", "cause"),
    [
        (QueueResult("ANSWERED", "agent2"), "transferred", 16),
        (QueueResult("TIMEOUT"), "no_agent", 17),
        (QueueResult("FULL"), "sorry", 16),
        (QueueResult("JOINEMPTY"), "sorry", 16),
    ],
)
async def test_transfer(tmp_path: Path, result: QueueResult, outcome: str, cause: int) -> None:
    router = RecordingRouter(("vip", 7))
    call = FakeCall(queue_result=result)
    r = await run(write_flows(tmp_path, TRANSFER, priority=""), call, router=router)
    assert router.asked == [("call-1", "support")]
    assert call.transfers == [Transferred("vip", 7, 30)]
    assert call.plays[0].media == ["fake/zh/正在为您转接"]
    assert not call.plays[0].barge_in
    assert (r.result.outcome, r.result.cause, call.hangup_cause) == (outcome, cause, cause)
    assert r.result.facts["queue"] == "vip"
    assert r.result.facts["queue_status"] == result.status
    assert r.result.facts["agent"] == result.agent
    [queued] = r.steps("queue_result")
    assert queued.detail == {"status": result.status, "agent": result.agent}


@pytest.mark.parametrize(
    ("result", "times"),
    [
        (QueueResult("ANSWERED", "agent2", 30.0, 200.0), {"wait_s": 30.0, "talk_s": 200.0}),
        (QueueResult("TIMEOUT", None, 30.0), {"wait_s": 30.0}),
        (QueueResult("ANSWERED", "agent2", None, None), {}),  # an adapter that cannot tell
    ],
)
async def test_transfer_records_the_wait_and_the_talk(
    tmp_path: Path, result: QueueResult, times: dict[str, float]
) -> None:
    """The queue result step carries the seconds in the queue, and once an agent
    answered the talk time and the moment of the answer: the step's time less the
    talk time (so the queue visit splits into wait and talk)."""
    call = FakeCall(queue_result=result)
    r = await run(write_flows(tmp_path, TRANSFER, priority=""), call)
    [queued] = r.steps("queue_result")
    answered_at = queued.detail.pop("answered_at", None)
    assert queued.detail == {"status": result.status, "agent": result.agent, **times}
    if "talk_s" in times:
        assert datetime.fromisoformat(answered_at) == queued.at - timedelta(seconds=200)
    else:
        assert answered_at is None


@pytest.mark.parametrize(("line", "priority"), [("", 7), ("priority: 50", 50), ("priority: 0", 0)])
async def test_transfer_node_priority_overrides_router(
    tmp_path: Path, line: str, priority: int
) -> None:
    call = FakeCall()
    flows = write_flows(tmp_path, TRANSFER, priority=line)
    await run(flows, call, router=RecordingRouter(("support", 7)))
    assert call.transfers == [Transferred("support", priority, 30)]


# --- goto / return, set -------------------------------------------------------------

MAIN_WITH_GOTO = """
id: main
default: true
start: hello
nodes:
  hello: {type: play, prompts: [主流程], next: sub}
  sub: {type: goto, flow: billing, node: bill, return_to: back}
  back: {type: play, prompts: [回到主流程], next: bye}
  bye: {type: hangup}
"""
BILLING = """
id: billing
start: intro
nodes:
  intro: {type: play, prompts: [账单入口], next: bill}
  bill: {type: play, prompts: [账单], next: done}
  done: {type: return}
"""


async def test_goto_with_return_to_and_return(tmp_path: Path) -> None:
    r = await run(write_flows(tmp_path, MAIN_WITH_GOTO, BILLING), FakeCall())
    assert r.texts == ["主流程", "账单", "回到主流程"]
    assert [s.node for s in r.steps()] == ["hello", "sub", "bill", "done", "back", "bye"]
    assert r.result.outcome == "completed"
    assert r.result.facts["flow"] == r.bus.flow == "main"


RECURSIVE_MENU = """
id: t
default: true
start: again
nodes:
  again:
    type: menu
    prompt: 更多请按一
    choices: {"1": deeper}
    on_failure: bye
  deeper: {type: goto, flow: t, node: again, return_to: bye}
  bye: {type: hangup}
"""


async def test_goto_depth_guard_ends_the_call(tmp_path: Path) -> None:
    """Too deep a goto stack fails the call like the max-steps guard does: with a
    hang-up (41), not by leaving the caller connected in silence."""
    call = FakeCall([("play", n, "1") for n in range(1, 20)])  # 1 at every prompt
    r = await run(write_flows(tmp_path, RECURSIVE_MENU), call)
    assert len(r.steps("goto")) == 9  # eight nested, the ninth refused
    assert r.result.outcome == "failed"
    assert r.steps("goto")[-1].detail == {"result": "too deep"}
    assert r.call.hangup_cause == 41
    assert r.result.cause == 41


LANGUAGE = """
id: t
default: true
language: zh
start: choose
nodes:
  choose:
    type: menu
    prompt: {zh: 中文请按一, en: For English press two}
    choices: {"1": set_zh, "2": set_en}
    on_failure: set_zh
  set_zh: {type: set, values: {language: zh}, next: hello}
  set_en: {type: set, values: {language: en}, next: hello}
  hello:
    type: play
    prompts: [{zh: 您好, en: Hello}, 再见]
    next: main
  main:
    type: dynamic_menu
    items:
      - {label: {zh: 余额, en: Balance}, target: bye}
    on_failure: bye
  bye: {type: hangup}
"""


@pytest.mark.parametrize(
    ("digit", "language", "hello", "item"),
    [("1", "zh", "您好", "按1，余额。"), ("2", "en", "Hello", "Press 1 for Balance. ")],
)
async def test_set_language_switches_prompts(
    tmp_path: Path, digit: str, language: str, hello: str, item: str
) -> None:
    call = FakeCall([("play", 1, digit), ("play", 3, "1")])
    r = await run(write_flows(tmp_path, LANGUAGE), call)
    assert r.bus.language == language
    assert r.renderer.rendered == [
        ("中文请按一", "zh"),  # the caller's language before the choice
        (hello, language),
        ("再见", "zh"),  # plain text is in the flow's language
        (item, language),
    ]
    assert call.plays[1].media == [f"fake/{language}/{hello}", "fake/zh/再见"]
    [step] = r.steps("set")
    assert step.detail == {"keys": ["language"]}


# --- hangup, caller hangup, guards --------------------------------------------------

HANGUP_FLOW = """
id: t
default: true
start: bye
nodes:
  bye: $node
"""


@pytest.mark.parametrize(
    ("fields", "outcome", "cause"),
    [
        ({}, "completed", 16),
        ({"cause": 31}, "completed", 31),
        ({"outcome": "no_agent"}, "no_agent", 16),
        ({"cause": 17, "outcome": "timeout"}, "timeout", 17),
    ],
)
async def test_hangup_cause_and_outcome(
    tmp_path: Path, fields: dict[str, Any], outcome: str, cause: int
) -> None:
    node = json.dumps({"type": "hangup", "prompt": "再见", **fields}, ensure_ascii=False)
    r = await run(write_flows(tmp_path, HANGUP_FLOW, node=node), FakeCall())
    assert r.call.answered
    assert r.call.plays[0].media == ["fake/zh/再见"]
    assert not r.call.plays[0].barge_in
    assert (r.result.outcome, r.result.cause, r.call.hangup_cause) == (outcome, cause, cause)


CALLER_HANGS_UP = """
id: t
default: true
start: main
nodes:
  main:
    type: menu
    prompt: 主菜单
    choices: {"1": to_agent}
    on_failure: bye
  to_agent:
    type: transfer
    queue: support
    on_status: {default: bye}
  bye: {type: hangup}
"""


@pytest.mark.parametrize(
    ("script", "queue_status"),
    [
        ([("play", 1, HANGUP)], None),
        ([("wait", 1, HANGUP)], None),
        ([("play", 1, "9"), ("play", 2, HANGUP)], None),  # during the invalid prompt
        ([("play", 1, "1"), ("transfer", 1, HANGUP)], "ABANDON"),
    ],
)
async def test_caller_hangup_mid_flow_is_abandoned(
    tmp_path: Path, script: Script, queue_status: str | None
) -> None:
    r = await run(write_flows(tmp_path, CALLER_HANGS_UP), FakeCall(script, caller_hangup_cause=19))
    assert (r.result.outcome, r.result.cause) == ("abandoned", 19)
    assert r.result.facts.get("queue_status") == queue_status
    assert r.result.facts["flow"] == "t"


LOOP_WITH_MENU = """
id: t
default: true
start: main
nodes:
  main:
    type: menu
    prompt: 主菜单
    choices: {"1": again}
    on_failure: bye
  again: {type: play, prompts: [再来一次], next: main}
  bye: {type: hangup}
"""


async def test_max_steps_guard_hangs_up(tmp_path: Path) -> None:
    # the caller presses 1 at every menu prompt (plays 1, 3, 5, ...)
    call = FakeCall([("play", n, "1") for n in range(1, 40, 2)])
    r = await run(write_flows(tmp_path, LOOP_WITH_MENU), call, max_steps=10)
    assert (r.result.outcome, r.result.cause, call.hangup_cause) == ("failed", 41, 41)
    assert len(r.steps("menu")) == 5
    assert len(r.steps("play")) == 5


async def test_no_flow_for_number_refuses_the_call(tmp_path: Path) -> None:
    flows = write_flows(
        tmp_path, MENU.replace("default: true", "entry_numbers: ['100']"), retries=1
    )
    call = FakeCall(called="999")
    r = await run(flows, call)
    assert (r.result.outcome, r.result.cause, call.hangup_cause) == ("failed", 1, 1)
    assert not call.answered
    assert r.call.plays == []


def test_a_dtmf_flood_fills_the_digit_buffer_only_so_far() -> None:
    buffer = DigitBuffer()
    for _ in range(1000):
        buffer.push("*")
    taken = 0
    while buffer.pop_nowait() is not None:
        taken += 1
    assert (taken, buffer.dropped) == (DigitBuffer.MAX_PENDING, 1000 - DigitBuffer.MAX_PENDING)

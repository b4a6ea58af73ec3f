"""Operator controls: the pure rules (tables), the service over an in-memory
store, and what a call hears and walks when they are set."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agi_app.core.bus import DataBus
from agi_app.core.controls import (
    AB_SPLIT,
    ANNOUNCEMENT,
    ESCALATION,
    MANUAL_RULE,
    AbSplit,
    Announcement,
    ControlError,
    Controls,
    Escalation,
    announcement_body,
    check_fields,
    uploaded_prompt,
    validate_announcement,
    validate_escalation,
    validate_split,
)
from agi_app.core.customer import Customer
from agi_app.core.decisions import Shedding
from agi_app.core.flows.loader import Known, load_flowset
from agi_app.core.journey import CallStep, MemoryJourney
from agi_app.service.controls import ControlsService
from agi_app.service.flows.engine import EngineDeps, Preamble, run_flow
from tests.fakes import FakeCall, FakeRenderer, FixedClock, MemoryControlStore

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
LINES = {"10086", "95555", "100"}
FLOWS = {"mobile_10086", "mobile_10086_b", "demo_ivr"}
LEVELS = {1: ["self_service_first"], 2: ["self_service_first", "reorder_menus"], 3: [], 4: []}


# --- core: what is active when ------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "line", "at", "applies"),
    [
        (frozenset(), "10086", T0, True),
        (frozenset(), "95555", T0 + timedelta(minutes=9), True),
        (frozenset({"10086"}), "10086", T0, True),
        (frozenset({"10086"}), "95555", T0, False),
        (frozenset(), "10086", T0 + timedelta(minutes=10), False),  # expired
    ],
)
def test_announcement_applies(
    lines: frozenset[str], line: str, at: datetime, applies: bool
) -> None:
    ann = Announcement("a1", T0 + timedelta(minutes=10), text="停电通知", lines=lines)
    assert (Controls(announcement=ann).announcement_for(line, at) is not None) is applies


def test_expired_controls_drop_out() -> None:
    c = Controls(
        Announcement("a1", T0 + timedelta(minutes=1), text="x"),
        Escalation(3, T0 + timedelta(minutes=5), "storm"),
    )
    assert c.at(T0).announcement is not None and c.at(T0).escalation is not None
    later = c.at(T0 + timedelta(minutes=2))
    assert later.announcement is None and later.escalation is not None
    assert c.forced_level(T0 + timedelta(minutes=5)) is None


def test_ab_variant_is_sticky_and_near_the_share() -> None:
    split = AbSplit("10086", "mobile_10086", "mobile_10086_b", 0.3)
    numbers = [f"+86138{i:08d}" for i in range(4000)]
    first = [split.variant(n) for n in numbers]
    assert first == [split.variant(n) for n in numbers]  # the same number, the same variant
    b = sum(1 for v, _ in first if v == "B")
    assert 0.27 < b / len(numbers) < 0.33
    assert {f for v, f in first if v == "B"} == {"mobile_10086_b"}
    assert AbSplit("1", "x", "y", 0.0).variant("+1") == ("A", "x")
    assert AbSplit("1", "x", "y", 1.0).variant("+1") == ("B", "y")


# --- core: validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"level": 7, "minutes": 10, "reason": "r"}, "level must be 1, 2, 3 or 4"),
        ({"level": 0, "minutes": 10, "reason": "r"}, "level must be"),
        ({"level": True, "minutes": 10, "reason": "r"}, "level must be"),
        ({"level": "x", "minutes": 10, "reason": "r"}, "level must be"),
        ({"level": 2, "minutes": 10, "reason": " "}, "a reason is required"),
        ({"level": 2, "minutes": 0, "reason": "r"}, "minutes must be"),
        ({"level": 2, "minutes": "ten", "reason": "r"}, "minutes must be"),
        ({"level": 2, "reason": "r"}, "minutes must be"),
        ({"level": "²", "minutes": 10, "reason": "r"}, "level must be"),  # "²".isdigit()
        ({"level": "٣", "minutes": 10, "reason": "r"}, "level must be"),
        ({"level": 2, "minutes": 10, "reason": "a\u0000b"}, "reason holds a control"),
        ({"level": 2, "minutes": 10, "reason": "two\nlines"}, "reason holds a control"),
        ({"level": 2, "minutes": 10, "reason": "a\ud800b"}, "reason is not valid Unicode"),
        ({"level": 2, "minutes": 10, "reason": "x" * 201}, "longer than 200"),
        # An unknown field was ignored: the request went through without it.
        ({"level": 2, "minutes": 10, "reason": "r", "bogus": 1},
         "unknown field\\(s\\) 'bogus'; accepted fields: level, minutes, reason"),
        ({"levl": 3, "minutes": 10, "reason": "r"}, "unknown field\\(s\\) 'levl'"),
    ],
)  # fmt: skip
def test_bad_escalation_is_refused(body: dict[str, Any], error: str) -> None:
    with pytest.raises(ControlError, match=error):
        validate_escalation(body, T0)


def test_escalation_accepted() -> None:
    esc = validate_escalation({"level": "3", "minutes": 15, "reason": " 暴雨 "}, T0)
    assert esc == Escalation(3, T0 + timedelta(minutes=15), "暴雨")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"line": "10086", "flow_a": "mobile_10086", "flow_b": "demo_ivr", "share": 1.5}, "share"),
        ({"line": "10086", "flow_a": "mobile_10086", "flow_b": "demo_ivr", "share": -0.1}, "share"),
        ({"line": "10086", "flow_a": "mobile_10086", "flow_b": "demo_ivr", "share": "x"}, "share"),
        ({"line": "12345", "flow_a": "mobile_10086", "flow_b": "demo_ivr"}, "unknown line"),
        ({"line": "10086", "flow_a": "mobile_10086", "flow_b": "nope"}, "unknown flow"),
        ({"line": "10086", "flow_a": "demo_ivr", "flow_b": "demo_ivr"}, "must differ"),
        # "shares" was ignored and the default 0.5 put half the calls on flow B.
        ({"line": "10086", "flow_a": "mobile_10086", "flow_b": "demo_ivr", "shares": 0.9},
         "unknown field\\(s\\) 'shares'; accepted fields: line, flow_a, flow_b, share"),
    ],
)  # fmt: skip
def test_bad_split_is_refused(body: dict[str, Any], error: str) -> None:
    with pytest.raises(ControlError, match=error):
        validate_split(body, LINES, FLOWS)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "needs a text or an uploaded prompt"),
        ({"text": "   "}, "needs a text"),
        ({"text": "x" * 501}, "longer than 500"),
        ({"text": "停电", "lines": ["12345"]}, "unknown line"),
        ({"text": "停电", "lines": "10086,999"}, "unknown line"),
        ({"text": "停电", "minutes": 0}, "minutes"),
        ({"text": "停电", "language": "fr"}, "language"),
        ({"text": 5}, "must be text"),
        ({"text": "a\x07b"}, "text holds a control character"),
        ({"text": "lone \udcff"}, "text is not valid Unicode"),
        # The prompt is an upload's name, never a sound name (or a command) typed in.
        ({"prompt": 'x\nEXEC System "touch /tmp/pwned"'}, "not an uploaded prompt"),
        ({"prompt": "agi_app/announcements/0123456789abcdef,x"}, "not an uploaded prompt"),
        ({"prompt": "agi_app/announcements/../../../etc/x"}, "not an uploaded prompt"),
        ({"prompt": "agi_app/static/fallback_menu"}, "not an uploaded prompt"),
        ({"prompt": "agi_app/announcements/0123456789ABCDEF"}, "not an uploaded prompt"),
        ({"prompt": ["agi_app/announcements/0123456789abcdef"]}, "must be text"),
        ({"text": "停电", "minuets": 5}, "unknown field\\(s\\) 'minuets'; accepted fields: text"),
        ({"text": "停电", "line": "10086"}, "unknown field\\(s\\) 'line'"),
    ],
)
def test_bad_announcement_is_refused(body: dict[str, Any], error: str) -> None:
    with pytest.raises(ControlError, match=error):
        validate_announcement(body, T0, LINES, "id")


@pytest.mark.parametrize(
    ("body", "accepted", "required", "error"),
    [
        ({"a": 1}, ("a", "b"), (), None),
        ({}, ("a",), (), None),
        ({"a": None}, ("a",), ("a",), None),  # present, null: for the caller to read
        ({"c": 1}, ("a", "b"), (), "unknown field(s) 'c'; accepted fields: a, b"),
        ({"x": 1}, (), (), "unknown field(s) 'x'; accepted fields: none"),
        ({}, ("a",), ("a",), "missing field(s) 'a'; accepted fields: a"),
        ({"aa": 1}, ("a",), ("a",),
         "unknown field(s) 'aa'; missing field(s) 'a'; accepted fields: a"),
        ({k: 1 for k in "zyxwvutsr"}, ("a",), (),
         "unknown field(s) 'r', 's', 't', 'u', 'v' and 4 more; accepted fields: a"),
    ],
)  # fmt: skip
def test_check_fields(
    body: dict[str, Any], accepted: tuple[str, ...], required: tuple[str, ...], error: str | None
) -> None:
    if error is None:
        check_fields(body, accepted, required)
        return
    with pytest.raises(ControlError) as caught:
        check_fields(body, accepted, required)
    assert str(caught.value).startswith(error)


def test_announcement_accepted() -> None:
    ann = validate_announcement(
        {"text": "停电\x00通知", "lines": "10086, 95555", "minutes": 5}, T0, LINES, "a1"
    )
    assert ann.text == "停电通知" and ann.lines == {"10086", "95555"}
    assert ann.expires_at == T0 + timedelta(minutes=5)
    prompt = uploaded_prompt(b"RIFF...")
    assert validate_announcement({"prompt": prompt}, T0, LINES, "a2").prompt == prompt


# --- service ------------------------------------------------------------------------


def service(store: MemoryControlStore, renderer: FakeRenderer | None = None) -> ControlsService:
    return ControlsService(store, LEVELS, renderer, wall=lambda: T0)


def bus(grade: str | None = None, called: str = "10086") -> DataBus:
    customer = Customer("+8613800000004", "n", grade) if grade else None
    return DataBus("c1", "13800000004", called, "+8613800000004", customer)


def rules_say(level: int, rule: str) -> Any:
    return lambda _bus: Shedding(level, frozenset(), rule)


async def test_forced_level_overrides_the_rules_but_not_exemption() -> None:
    store = MemoryControlStore()
    svc = service(store)
    decide = svc.decide_with(rules_say(1, "month_end"))
    assert decide(bus()).rule == "month_end"
    await svc.force_level({"level": 2, "minutes": 10, "reason": "storm"}, "ops")
    forced = decide(bus("silver"))
    assert (forced.level, forced.rule) == (2, MANUAL_RULE)
    assert forced.actions == {"self_service_first", "reorder_menus"}
    assert svc.decide_with(rules_say(0, "exempt"))(bus("diamond")).rule == "exempt"
    assert store.audit_lines[-1]["who"] == "ops" and store.audit_lines[-1]["before"] is None
    assert await svc.clear(ESCALATION, "ops") is not None
    assert decide(bus()).rule == "month_end"
    assert [a["action"] for a in store.audit_lines] == ["set", "clear"]


async def test_refused_change_writes_nothing() -> None:
    store = MemoryControlStore()
    svc = service(store)
    with pytest.raises(ControlError):
        await svc.force_level({"level": 7, "minutes": 10, "reason": "x"}, "ops")
    with pytest.raises(ControlError):
        await svc.set_split(
            {"line": "10086", "flow_a": "mobile_10086", "flow_b": "demo_ivr", "share": 1.5},
            "ops",
            LINES,
            FLOWS,
        )
    assert store.rows == {} and store.audit_lines == []


async def test_announcement_text_is_rendered_when_set() -> None:
    renderer = FakeRenderer()
    svc = service(MemoryControlStore(), renderer)
    ann = await svc.set_announcement({"text": "系统维护", "lines": ["10086"]}, "ops", LINES)
    assert renderer.rendered == [("系统维护", "zh")]
    assert svc.announcement_for("10086") == ann
    assert svc.announcement_for("95555") is None


@pytest.mark.parametrize(
    "changed",
    [
        {"prompt": 'x\nEXEC System "touch /tmp/pwned"'},
        {"prompt": "agi_app/announcements/0123456789abcdef,../../x"},
        {"prompt": 7},
        {"text": "a\x07b"},
        {"language": "fr"},
    ],
)
async def test_a_stored_announcement_that_fails_the_checks_never_reaches_a_call(
    changed: dict[str, Any],
) -> None:
    """A row stored before the checks (or by hand) is checked again when read."""
    store = MemoryControlStore()
    svc = service(store)
    good = Announcement("a1", T0 + timedelta(minutes=5), prompt=uploaded_prompt(b"x"))
    store.rows[(ANNOUNCEMENT, "")] = announcement_body(good)
    await svc.refresh()
    assert svc.announcement_for("10086") == good
    store.rows[(ANNOUNCEMENT, "")] = {**announcement_body(good), **changed}
    await svc.refresh()
    assert svc.announcement_for("10086") is None


async def test_split_chooses_a_flow_only_when_both_exist() -> None:
    svc = service(MemoryControlStore())
    body = {"line": "10086", "flow_a": "mobile_10086", "flow_b": "demo_ivr", "share": 1.0}
    await svc.set_split(body, "ops", LINES, FLOWS)
    assert svc.flow_for(bus(), FLOWS) == ("B", "demo_ivr")
    assert svc.flow_for(bus(called="95555"), FLOWS) is None
    assert svc.flow_for(bus(), {"mobile_10086"}) is None  # a flow gone after a reload
    await svc.clear(AB_SPLIT, "ops", "10086")
    assert svc.flow_for(bus(), FLOWS) is None


async def test_refresh_loop_keeps_the_last_controls_while_the_store_is_down() -> None:
    store = MemoryControlStore()
    svc = ControlsService(store, LEVELS, refresh_s=0.01, wall=lambda: T0)
    await svc.force_level({"level": 3, "minutes": 10, "reason": "x"}, "ops")
    store.fail = True
    reads = store.loads
    task = asyncio.create_task(svc.run())
    try:
        async with asyncio.timeout(2):
            while store.loads < reads + 3:  # three reads failed
                await asyncio.sleep(0.005)
        assert svc.current.escalation is not None
        store.fail = False
        store.rows.clear()
        async with asyncio.timeout(2):
            while svc.current.escalation is not None:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()


# --- a call with the controls set ---------------------------------------------------

FLOW_A = """
id: flow_a
entry_numbers: ["10086"]
start: hello
nodes:
  hello: {type: play, prompts: [这是甲流程], next: bye}
  bye: {type: hangup, cause: 16}
"""
FLOW_B = FLOW_A.replace("flow_a", "flow_b").replace('entry_numbers: ["10086"]', "default: true")
FLOW_B = FLOW_B.replace("这是甲流程", "这是乙流程")


async def walk(tmp_path: Path, preamble: Preamble | None) -> tuple[FakeCall, Any, MemoryJourney]:
    (tmp_path / "a.yaml").write_text(FLOW_A, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(FLOW_B, encoding="utf-8")
    flows, errors = load_flowset([tmp_path], Known())
    assert flows is not None, errors
    call, journey = FakeCall(called="10086"), MemoryJourney()
    deps = EngineDeps(FakeRenderer(), journey, FixedClock(T0), None, lambda: asyncio.sleep(0))  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        result = await run_flow(call, DataBus("c1", call.caller, "10086"), flows, deps, preamble)
    return call, result, journey


async def test_announcement_plays_before_the_flow_and_is_recorded(tmp_path: Path) -> None:
    ann = Announcement("a1", T0 + timedelta(minutes=5), text="紧急通知")
    call, result, journey = await walk(tmp_path, Preamble(ann))
    assert call.media == ["fake/zh/紧急通知", "fake/zh/这是甲流程"]
    assert call.plays[0].barge_in is False
    steps = [e for e in journey.events if isinstance(e, CallStep)]
    assert (steps[0].node, steps[0].detail["id"]) == ("emergency-announcement", "a1")
    assert result.facts["announcement"] == "a1" and "ab_variant" not in result.facts


async def test_uploaded_prompt_plays_as_is(tmp_path: Path) -> None:
    ann = Announcement("a2", T0 + timedelta(minutes=5), prompt=uploaded_prompt(b"wav"))
    call, _result, _j = await walk(tmp_path, Preamble(ann))
    assert call.media[0] == uploaded_prompt(b"wav")


async def test_split_walks_the_chosen_flow_and_records_the_variant(tmp_path: Path) -> None:
    call, result, _j = await walk(tmp_path, Preamble(None, "flow_b", "B:flow_b"))
    assert call.media == ["fake/zh/这是乙流程"]
    assert (result.facts["flow"], result.facts["ab_variant"]) == ("flow_b", "B:flow_b")

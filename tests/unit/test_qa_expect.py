"""Scenario expectations against what a run saw: tables, no stack."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from agi_app.tools.qa.expect import (
    CallbackExpect,
    Connect,
    Dialled,
    JourneyExpect,
    OrderExpect,
    Seen,
    path_matches,
    split_path,
)


@pytest.mark.parametrize(
    ("expected", "seen", "ok"),
    [
        ("a > b[1] > c", ["a", "b[1]", "c"], True),
        ("a > b > c", ["a", "b[1]", "c"], False),  # digits are part of the step
        ("a > ...", ["a", "b", "c"], True),
        ("a > ...", ["a"], True),
        ("... > c", ["a", "b", "c"], True),
        ("a > ... > c", ["a", "c"], True),
        ("a > ... > d", ["a", "b", "c"], False),
        ("a > b", ["a", "b", "c"], False),  # no wildcard: the whole path
        ("...", [], True),
    ],
)
def test_path_matching(expected: str, seen: list[str], ok: bool) -> None:
    assert path_matches(split_path(expected), seen) is ok


def _journey(**kw: Any) -> dict[str, Any]:
    base = {
        "outcome": "transferred",
        "grade": "diamond",
        "shedding_level": 0,
        "queue": "support",
        "agent": "agent1",
        "via": "ari",
        "steps": [{"node": "entry", "digits": ""}, {"node": "vip_menu", "digits": "2"}],
    }
    return {**base, **kw}


def test_journey_pass_and_fail_say_what_was_seen() -> None:
    seen = Seen(journeys={"vip": _journey(), "gone": None})
    ok = JourneyExpect(journey="vip", path="entry > vip_menu[2]", grade="diamond").check(seen)
    assert ok.ok and "path entry > vip_menu[2]" in str(ok) and str(ok).startswith("PASS")
    bad = JourneyExpect(journey="vip", path="entry > welcome > ...", outcome="completed")
    v = bad.check(seen)
    assert not v.ok
    assert "path expected entry > welcome > ..." in v.seen
    assert "outcome expected 'completed', was 'transferred'" in v.seen
    assert "seen outcome=transferred" in v.seen
    missing = JourneyExpect(journey="gone").check(seen)
    assert not missing.ok and "no journey" in missing.seen


def _connects(*who: str) -> list[Connect]:
    return [Connect(float(i), c, "1", "agent1", "support") for i, c in enumerate(who)]


def test_order_ignores_other_callers_and_shows_the_seen_order() -> None:
    seen = Seen(connects=_connects("occ", "diamond", "gold", "diamond"))
    assert OrderExpect(order=["diamond", "gold"]).check(seen).ok
    wrong = OrderExpect(order=["gold", "diamond"]).check(seen)
    assert not wrong.ok
    assert str(wrong) == (
        "FAIL order gold < diamond: expected gold, diamond\n"
        "    seen diamond (agent1 t+1.0s), gold (agent1 t+2.0s)"
    )
    never = OrderExpect(order=["diamond", "silver"]).check(seen)
    assert not never.ok and "never reached an agent: silver" in never.seen
    assert not OrderExpect(order=["diamond", "gold"], queue="vip").check(seen).ok


def test_callback_counts_from_the_booking() -> None:
    booked = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)
    row = {"requested_at": booked, "state": "connected", "attempts": 1}
    exp = CallbackExpect(callback="13800000005", within_s=30)
    assert exp.e164 == "+8613800000005"
    rang = [Dialled(booked + dt.timedelta(seconds=12), "+8613800000005")]
    v = exp.check(Seen(callbacks={exp.e164: row}, dialled=rang))
    assert v.ok and "dialled 12.0s later" in v.seen
    late = [Dialled(booked + dt.timedelta(seconds=45), "+8613800000005")]
    assert not exp.check(Seen(callbacks={exp.e164: row}, dialled=late)).ok
    assert "never dialled" in exp.check(Seen(callbacks={exp.e164: row})).seen
    assert "no callback was booked" in exp.check(Seen()).seen

"""What the heard check reads from a journey: the sounds each step played, and
which step took each digit; and the ARI request that plays several sounds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agi_app.adapters.ari.rest import AriRest
from agi_app.adapters.postgres.journey_sql import step_row
from agi_app.core.journey import CallStep
from agi_app.tools.qa.heard import Expected, expected_prompts, sent_digits
from tests.fake_ari import FakeAri
from tests.fakes import FakeCall
from tests.unit.test_flow_engine import run, write_flows

AT = datetime(2026, 12, 2, tzinfo=UTC)
FLOW = """
id: t
default: true
start: hello
nodes:
  hello: {type: play, prompts: [你好, 欢迎], barge_in: false, next: main}
  main:
    type: menu
    prompt: 主菜单
    choices: {"1": bye}
    timeout_s: 3
    invalid_prompt: 输入有误
    on_failure: bye
  bye: {type: hangup, prompt: 再见}
"""


async def test_each_step_names_the_sounds_said_for_it_in_order(tmp_path: Path) -> None:
    # 7 is invalid during the menu prompt, 1 chooses after the repeat.
    call = FakeCall([("play", 2, "7"), ("play", 4, "1")])
    r = await run(write_flows(tmp_path, FLOW), call)
    steps = {s.node: s.prompts for s in r.steps()}
    assert steps == {
        "hello": [("fake/zh/你好", False), ("fake/zh/欢迎", False)],
        "main": [("fake/zh/主菜单", True), ("fake/zh/输入有误", True), ("fake/zh/主菜单", True)],
        "bye": [("fake/zh/再见", False)],
    }
    assert [s.detail for s in r.steps("menu")] == [{"retries": 1, "invalid": 1, "timeouts": 0}]


async def test_a_play_step_is_recorded_with_its_sounds_before_the_caller_hangs_up(
    tmp_path: Path,
) -> None:
    r = await run(write_flows(tmp_path, FLOW), FakeCall([("play", 1, "hangup")]))
    assert r.result.outcome == "abandoned"
    [step] = r.steps()
    assert (step.node, len(step.prompts)) == ("hello", 2)


def test_the_journey_writer_keeps_the_sounds_in_the_step_detail() -> None:
    step = CallStep("c1", "main", "menu", AT, "1", {"retries": 0}, [("agi_app/x", True)])
    detail = json.loads(step_row(step)[5])
    assert detail == {"retries": 0, "prompts": [{"sound": "agi_app/x", "barge_in": True}]}
    assert "prompts" not in json.loads(step_row(CallStep("c1", "a", "b", AT))[5])


def test_expected_prompts_come_from_the_steps_detail_as_stored() -> None:
    steps: list[dict[str, Any]] = [
        {"node": "hello", "digits": "", "detail": json.dumps({"prompts": [
            {"sound": "s1", "barge_in": False}]})},
        {"node": "noop", "digits": "", "detail": "{}"},
        {"node": "main", "digits": "1", "detail": {"prompts": [{"sound": "s2", "barge_in": True}]}},
    ]  # fmt: skip
    assert expected_prompts(steps) == [
        Expected("hello", "s1", False, 0),
        Expected("main", "s2", True, 2),
    ]


@pytest.mark.parametrize(
    ("kept", "sent", "taken_by"),
    [
        # steps that take no digit ("") count too
        (["1", "", "9"], "19", [0, 2]),
        # an invalid digit goes with the step that took the next one
        (["", "2"], "72", [1, 1]),
        # the terminator is no step's digit: it goes with the next step's digit
        (["2", "0007", "", "9"], "20007#9", [0, 1, 1, 1, 1, 3, 3]),
        # digits no step took (the call ended first) go past the last step
        (["1", ""], "15", [0, 2]),
    ],
)
def test_each_digit_sent_is_attributed_to_the_step_that_took_it(
    kept: list[str], sent: str, taken_by: list[int]
) -> None:
    steps = [{"node": f"n{i}", "digits": d} for i, d in enumerate(kept)]
    got = sent_digits(steps, [(d, float(i)) for i, d in enumerate(sent)])
    assert [(g.digit, g.at_s, g.step) for g in got] == [
        (d, float(i), s) for i, (d, s) in enumerate(zip(sent, taken_by, strict=True))
    ]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    ari = FakeAri()
    yield ari
    await ari.stop()


async def test_several_sounds_go_in_one_media_parameter(fake: FakeAri) -> None:
    """Asterisk keeps only the last of repeated ``media=`` parameters: the heard
    check found a six-item menu that played its last item only."""
    rest = AriRest(await fake.start(), "user", "pw", "agi-app")
    await rest.play("c1", ["agi_app/a", "agi_app/b", "agi_app/c"], "p1")
    await rest.close()
    assert fake.requests[-1].params["media"] == ["agi_app/a,agi_app/b,agi_app/c"]

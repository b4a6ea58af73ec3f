"""Scenario files are validated like flows: every error names file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from agi_app.settings import PROJECT_ROOT, get_settings
from agi_app.tools.qa.plan import Installation, PlanError, installation, load_plan

SHIPPED = sorted((PROJECT_ROOT / "tests" / "qa").glob("*.yaml"))
GOOD = """
agents:
  agent1: {talk_s: 3}
callers:
  a: {number: "13800000005", line: "10086", keys: "wait 1; 1"}
expect:
  - journey: a
    outcome: completed
"""


@pytest.fixture(scope="module")
def inst() -> Installation:
    return installation(get_settings())


def test_the_installation_knows_lines_agents_and_ports(inst: Installation) -> None:
    assert {"10086", "710086", "610086", "95555", "100", "8000"} <= inst.lines
    assert inst.agent_ports["agent1"] == 5071
    assert inst.reserved_ports[5060] == "Asterisk SIP"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_are_valid(path: Path, inst: Installation) -> None:
    scn = load_plan(path, inst)
    assert scn.callers and scn.expect


def _errors(tmp_path: Path, inst: Installation, text: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(PlanError) as err:
        load_plan(path, inst)
    prefix = f"{path}: "
    assert all(e.startswith(prefix) for e in err.value.errors), err.value.errors
    return [e.removeprefix(prefix) for e in err.value.errors]


def test_a_good_file_loads(tmp_path: Path, inst: Installation) -> None:
    (tmp_path / "ok.yaml").write_text(GOOD)
    assert load_plan(tmp_path / "ok.yaml", inst).callers["a"].line == "10086"


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ('line: "10086"', 'line: "12345"', "callers.a.line: no flow serves '12345'"),
        ('keys: "wait 1; 1"', 'keys: "wait; x"', "callers.a.keys: cannot read key step 'wait'"),
        ("agent1: {talk_s: 3}", "agent9: {talk_s: 3}", "agents.agent9: not an agent endpoint"),
        ("{talk_s: 3}", "{talk_s: 3, colour: red}", "agents.agent1.colour: Extra inputs"),
        ("journey: a", "journey: b", "expect.0: unknown caller 'b'"),
        ("- journey: a", "- sounded: a", "expect.0: an expectation starts with journey:"),
        ("outcome: completed", "outcome: completed\n    grade: 3", "expect.0.grade: Input"),
        ('keys: "wait 1; 1"', "after: b started", "callers.a.after.0: unknown caller 'b'"),
        (
            'keys: "wait 1; 1"',
            "after: a rang",
            "callers.a.after: 'a rang': write '<caller> started|",
        ),
        ('keys: "wait 1; 1"', "port: 5071", "callers.a.port: port 5071 overlaps agents.agent1"),
        ('keys: "wait 1; 1"', "media_port: 20000", "port 20000 overlaps Asterisk RTP"),
    ],
)
def test_errors_name_the_field(
    tmp_path: Path, inst: Installation, old: str, new: str, error: str
) -> None:
    assert old in GOOD
    errors = _errors(tmp_path, inst, GOOD.replace(old, new, 1))
    assert any(e.startswith(error) or error in e for e in errors), errors


def test_callers_waiting_on_each_other_and_shared_ports(tmp_path: Path, inst: Installation) -> None:
    text = """
callers:
  a: {number: "1391", line: "100", after: b started, media_port: 31000}
  b: {number: "1392", line: "100", after: a ended, media_port: 31002}
  c: {number: "1392", line: "100"}
expect:
  - order: [a, b]
"""
    errors = _errors(tmp_path, inst, text)
    assert "callers.a.after: waits on itself (a -> b -> a)" in errors
    assert "callers.c.number: 1392 also calls as b" in errors
    assert "callers.b.media_port: port 31002 overlaps callers.a.media_port" in errors


def test_a_callback_needs_a_phone_and_a_file_must_parse(tmp_path: Path, inst: Installation) -> None:
    text = GOOD.replace("  - journey: a\n", '  - callback: "13800000005"\n    within_s: 9\n')
    text = text.replace("    outcome: completed\n", "")
    assert "expect.0: a callback needs a 'phone:' to ring" in _errors(tmp_path, inst, text)
    assert "mapping values are not allowed" in _errors(tmp_path, inst, "a: b: c")[0]

"""A key script's waits: a hotline that hangs up during one ends the call as it
would at the end of the script. `qa call --keys "wait 2; 1; wait 15"` failed
(rc=2, SIPp's raw statistics) when the hotline hung up during the last wait: a
<pause> made that BYE unexpected. The scenario as written, then real SIPp over
loopback against an answerer that hangs up (no stack)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agi_app.tools.qa.answer_scenario import build_answerer
from agi_app.tools.qa.ports import lease
from agi_app.tools.qa.runner import Answerer, SippResult, run_callers
from agi_app.tools.qa.scenario import build_caller, keys_unsent, parse_keys

CAUSE = "Q\\.850;cause=16([^0-9]|$)"


def after_ack(
    tmp_path: Path, keys: str, cause: int | None = None, *, early_bye: bool = True
) -> list[tuple[str, dict[str, str]]]:
    """The caller scenario's elements after its ACK, as (tag, attributes), and
    what a recv's actions check and log."""
    xml = build_caller(parse_keys(keys), tmp_path, expect_cause=cause, early_bye=early_bye)
    root = ET.fromstring(xml.read_bytes())
    elements = list(root)
    ack = next(i for i, e in enumerate(elements) if "ACK [next_url]" in (e.text or ""))
    rows = []
    for e in elements[ack + 1 :]:
        attrs = dict(e.attrib)
        for action in e.iter("ereg"):
            attrs["check"] = action.attrib["regexp"]
        for log in e.iter("log"):
            attrs["log"] = log.attrib["message"]
        rows.append((e.tag, attrs))
    return rows


def bye_in(ms: int, label: str, log: str, rtd: bool = False) -> tuple[str, dict[str, str]]:
    attrs = {"request": "BYE", "timeout": str(ms), "ontimeout": label, "next": "bye"}
    return "recv", attrs | ({"rtd": "2"} if rtd else {}) | {"log": log}


def test_every_wait_is_a_bye_awaited_as_long(tmp_path: Path) -> None:
    rows = after_ack(tmp_path, "wait 2; 1; wait 15")
    assert [(tag, a) for tag, a in rows if tag != "nop"] == [
        bye_in(2000, "step0_wait", "hung up after key=0 of=1"),
        ("label", {"id": "step0_wait"}),
        bye_in(300, "step1_digit", "hung up after key=1 of=1", rtd=True),  # the digit's gap
        ("label", {"id": "step1_digit"}),
        bye_in(15000, "step2_wait", "hung up after key=1 of=1", rtd=True),
        ("label", {"id": "step2_wait"}),
        ("recv", {"request": "BYE", "rtd": "2"}),
        ("label", {"id": "bye"}),
        ("send", {}),
        ("ResponseTimeRepartition", {"value": "10, 20, 50, 100, 200, 500, 1000"}),
    ]
    [(_, digit)] = [(tag, a) for tag, a in rows if tag == "nop"]
    assert digit == {"start_rtd": "2"}


def test_a_load_run_keeps_its_pauses(tmp_path: Path) -> None:
    """`make bench` and `make soak`: the call must follow the whole script (a
    BYE before is a failed call) and SIPp does no more work than before."""
    rows = after_ack(tmp_path, "wait 1; 1", 16, early_bye=False)
    assert [(tag, a) for tag, a in rows if tag != "nop"][:3] == [
        ("pause", {"milliseconds": "1000"}),
        ("pause", {"milliseconds": "300"}),
        ("recv", {"request": "BYE", "rtd": "2", "check": CAUSE}),
    ]


def test_a_bye_during_a_wait_is_checked_for_its_cause(tmp_path: Path) -> None:
    byes = [a for tag, a in after_ack(tmp_path, "wait 1; 1; wait 5", 16) if tag == "recv"]
    assert len(byes) == 4 and all(a["check"] == CAUSE for a in byes)


def test_no_wait_no_recv(tmp_path: Path) -> None:
    """'wait 0' waits for nothing (a recv without a timeout would wait for
    SIPp's -recv_timeout)."""
    assert [tag for tag, _ in after_ack(tmp_path, "wait 0")] == [
        "recv",
        "label",
        "send",
        "ResponseTimeRepartition",
    ]


@pytest.mark.parametrize(
    ("log", "note"),
    [
        ("", None),
        ("hung up after key=2 of=2\n", None),
        (
            "hung up after key=1 of=2\n",
            "the hotline hung up during the key script's wait after 1 of its 2 key(s); the"
            " rest were not sent",
        ),
    ],
)
def test_keys_unsent(log: str, note: str | None) -> None:
    assert keys_unsent(log) == note


async def _call(tmp_path: Path, keys: str, hold_ms: int, cause: int | None) -> SippResult:
    """One call with ``keys`` to an answerer that hangs up ``hold_ms`` after answering."""
    x = lease()
    x.release()
    hotline = Answerer(build_answerer(tmp_path / "a", hold_ms=hold_ms, name="hotline"), x.sip)
    await hotline.start()
    try:
        return await run_callers(
            build_caller(parse_keys(keys), tmp_path / "c", expect_cause=cause),
            service="100",
            callers=["13800000005"],
            calls=1,
            limit=1,
            timeout_s=30,
            target=f"127.0.0.1:{x.sip}",
        )
    finally:
        await hotline.stop()


@pytest.mark.parametrize(
    ("keys", "note"),
    [
        ("wait 1; 1; wait 15", None),
        (
            "1; wait 15; 2",
            "the hotline hung up during the key script's wait after 1 of its 2 key(s); the"
            " rest were not sent",
        ),
    ],
)
async def test_a_hangup_during_a_wait_ends_the_call_well(
    tmp_path: Path, keys: str, note: str | None
) -> None:
    began = time.monotonic()
    result = await _call(tmp_path, keys, hold_ms=1500, cause=None)
    assert (result.rc, result.successful, result.failed) == (0, 1, 0), result.output
    assert time.monotonic() - began < 10  # the BYE ended the wait of 15 s
    assert keys_unsent(result.log) == note


async def test_a_hangup_during_a_wait_with_the_wrong_cause_fails(tmp_path: Path) -> None:
    """The answerer's BYE carries no Reason: not the cause 16 expected."""
    result = await _call(tmp_path, "1; wait 15", hold_ms=1000, cause=16)
    assert (result.successful, result.failed) == (0, 1)

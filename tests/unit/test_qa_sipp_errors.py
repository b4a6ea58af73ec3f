"""`qa call` on a failed call says why in one line, from SIPp's -trace_err log
(it printed "failed=1" and SIPp's raw screen). The log as SIPp 3.6 writes it,
then real SIPp over loopback against an answerer (no stack)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agi_app.tools.qa.answer_scenario import build_answerer, build_busy_agent
from agi_app.tools.qa.ports import lease
from agi_app.tools.qa.runner import Answerer, SippResult, run_callers
from agi_app.tools.qa.scenario import build_caller, parse_keys
from agi_app.tools.qa.sipp_errors import failure_reason

HEAD = "The following events occurred:\n"
AT = "2026-12-07\t23:02:01.976057\t1796684521.976057: "
WAIT = (
    f"{AT}Call-Id: 1-24964@127.0.0.1, receive timeout on message agi-app caller:7,"
    " jumping to label 8"
)
CAUSE_44 = (
    f"{AT}Failed regexp match: looking in ' Q.850;cause=44', with regexp"
    " 'Q\\.850;cause=16([^0-9]|$)'\n"
)
NO_REASON = (
    f"{AT}Failed regexp match: header Reason: not found in message\n"
    "BYE sip:13800000005@127.0.0.1:16706 SIP/2.0\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n"
)
BUSY = (
    f"{AT}Aborting call on unexpected message for Call-Id '1-25131@127.0.0.1': while"
    " expecting '100' (index 1), received 'SIP/2.0 486 Busy Here\r\n"
    "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n'\n"
)
STUCK = (
    f"{AT}Call-Id: 1-2@127.0.0.1, receive timeout on message agi-app caller:9 without label"
    " to jump to (ontimeout attribute): aborting call\n"
)


@pytest.mark.parametrize(
    ("errors", "reason"),
    [
        ("", None),
        (HEAD + WAIT, None),  # the key script's own branch, not a failure
        (HEAD + WAIT + CAUSE_44, "the BYE's cause was 44, expected 16"),
        (HEAD + WAIT + NO_REASON, "the BYE carried no Reason header (no Q.850 cause)"),
        (HEAD + BUSY, "SIPp received an unexpected 486 Busy Here while waiting for 100"),
        (HEAD + STUCK, "nothing arrived in time for the scenario's message 9"),
        (
            HEAD + CAUSE_44 + CAUSE_44 + BUSY,
            "the BYE's cause was 44, expected 16;"
            " SIPp received an unexpected 486 Busy Here while waiting for 100",
        ),
    ],
)
def test_failure_reason(errors: str, reason: str | None) -> None:
    assert failure_reason(errors) == reason


async def _call(tmp_path: Path, hotline_xml: Path, keys: str) -> SippResult:
    x = lease()
    x.release()
    hotline = Answerer(hotline_xml, x.sip)
    await hotline.start()
    try:
        return await run_callers(
            build_caller(parse_keys(keys), tmp_path / "c", expect_cause=16),
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
    ("cause", "reason"),
    [
        (44, "the BYE's cause was 44, expected 16"),  # cut by rtp_timeout in a queue
        (None, "the BYE carried no Reason header (no Q.850 cause)"),
    ],
)
async def test_a_bye_with_another_cause_is_named(
    tmp_path: Path, cause: int | None, reason: str
) -> None:
    hotline = build_answerer(tmp_path / "a", hold_ms=1000, name="hotline", cause=cause)
    result = await _call(tmp_path, hotline, "1; wait 15")
    assert (result.successful, result.failed) == (0, 1), result.output
    assert failure_reason(result.errors) == reason, result.errors


async def test_an_unexpected_response_is_named(tmp_path: Path) -> None:
    result = await _call(tmp_path, build_busy_agent(tmp_path / "a"), "1")
    assert (result.successful, result.failed) == (0, 1), result.output
    assert failure_reason(result.errors) == (
        "SIPp received an unexpected 486 Busy Here while waiting for 100"
    )


async def test_a_good_call_leaves_no_reason(tmp_path: Path) -> None:
    hotline = build_answerer(tmp_path / "a", hold_ms=1000, name="hotline", cause=16)
    result = await _call(tmp_path, hotline, "1; wait 15")
    assert (result.successful, result.failed) == (1, 0), result.errors
    assert failure_reason(result.errors) is None

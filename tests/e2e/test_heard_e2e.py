"""What the caller heard, on the real stack: a pjsua2 caller records the call and
each prompt its journey names is found in the recording (issue 12, point 7)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import wave
from pathlib import Path
from typing import Any

import pytest

from agi_app.tools.qa import heard_call
from agi_app.tools.qa.heard import HeardReport
from agi_app.tools.qa.scenario import parse_keys
from tests.conftest import AppProcess, admin, wait_journey

pytestmark = pytest.mark.e2e
CLI = str(Path(__file__).parents[2] / ".venv/bin/agi-app")


async def heard(app: AppProcess, db: Any, caller: str, called: str, keys: str) -> HeardReport:
    since = dt.datetime.now(dt.UTC)
    call = await heard_call.place(app.settings, parse_keys(keys), caller, called, 60)
    assert call.successful == 1 and call.cause == 16, call.summary() + call.output
    journey = await wait_journey(db, caller, since)
    report = heard_call.report(app.settings, call, journey["steps"])
    print(report.table())
    return report


def statuses(report: HeardReport, node: str) -> list[str]:
    return [p.status for p in report.prompts if p.expected.node == node]


async def test_10086_in_mandarin_every_prompt_heard_barge_in_included(
    app: AppProcess, db: Any
) -> None:
    report = await heard(app, db, "13800000005", "10086", "wait 6; 1; wait 6; 9")
    assert report.ok
    assert statuses(report, "welcome") == ["heard"]
    # All six items of the main menu are named (one play); the digit 1 at 6 s
    # cuts the second or third, and those after it never start.
    main = statuses(report, "main")
    assert len(main) == 6 and main[0] == "heard" and main[-1] == "skipped"
    assert "heard, cut by digit" in main or "skipped" in main[:3]
    assert statuses(report, "say_balance") == ["heard"]
    assert statuses(report, "after_service") == ["heard, cut by digit"]
    assert statuses(report, "bye") == ["heard"]
    assert min(p.score for p in report.prompts if p.start_s is not None) > 0.95


async def test_95555_in_english_every_prompt_heard_barge_in_included(
    app: AppProcess, db: Any
) -> None:
    keys = "wait 1; 2; wait 2; 1; wait 3; 0007#; wait 7; 9"
    report = await heard(app, db, "13800000007", "95555", keys)
    assert report.ok
    assert statuses(report, "choose_language_zh") == ["heard, cut by digit"]
    assert statuses(report, "main") == ["heard, cut by digit"]
    assert statuses(report, "card_for_balance") == ["heard, cut by digit"]
    assert statuses(report, "say_balance") == ["heard"]
    assert statuses(report, "bye") == ["heard"]
    assert all(p.expected.sound.startswith("agi_app/cache/en/") for p in report.prompts[1:])


SILENCED = "这是听音检查的测试提示，播放时声音被换成了静音。"
FLOW = f"""
id: heard_check
language: zh
entry_numbers: ["5550107"]
start: notice
nodes:
  notice: {{type: play, prompts: [{SILENCED}], barge_in: false, next: bye}}
  bye: {{type: hangup, cause: 16, prompt: 听音检查结束，再见。}}
"""


async def cli(*args: str, timeout: float = 90) -> tuple[int, str]:
    """Run ``agi-app ARGS``; (exit code, stdout and stderr)."""
    proc = await asyncio.create_subprocess_exec(
        CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    async with asyncio.timeout(timeout):
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


QA_CALL = ("qa", "call", "--heard", "--from", "13900007107", "--to", "5550107", "--cause", "16")


async def test_qa_call_heard_fails_when_a_prompt_plays_as_silence(app: AppProcess) -> None:
    assert app.flows_dir is not None
    flow = app.flows_dir / "zz_heard_check.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    rc, out = await cli("prompts", "say", SILENCED, "--lang", "zh")
    assert rc == 0, out
    wav = Path(out.strip().splitlines()[-1])
    played = [wav.with_suffix(s) for s in (".ulaw", ".alaw", ".sln16")]
    try:
        status, body = await admin(app.settings, "POST", "/admin/reload")
        assert status == 200, body
        rc, out = await cli(*QA_CALL)
        assert rc == 0, out
        assert "2 of 2 prompts ok" in out
        # What Asterisk plays on this PCMU call is now silence of the same length;
        # the .wav, the set's master and the check's reference, still speaks.
        with wave.open(str(wav)) as w:
            samples = w.getnframes()
        ulaw, alaw, sln16 = played
        ulaw.write_bytes(b"\xff" * samples)  # the mu-law code of 0
        alaw.write_bytes(b"\xd5" * samples)  # the A-law code nearest 0
        sln16.write_bytes(bytes(4 * samples))  # 16 kHz, 16-bit
        rc, out = await cli(*QA_CALL)
        assert rc == 1, out
        [row] = [line for line in out.splitlines() if re.match(r"\s+1\s+notice\s", line)]
        assert "NOT HEARD" in row
        assert "where it should play" in out
        assert "MISMATCH: a prompt the journey names was not heard" in out
    finally:
        flow.unlink()
        for path in [*played, wav]:
            path.unlink(missing_ok=True)
        await admin(app.settings, "POST", "/admin/reload")

"""Answerers on real SIPp over loopback (no stack): per-call talk times, the log
of who called whom, a busy agent that refuses."""

from __future__ import annotations

import time
from pathlib import Path

from agi_app.tools.qa.answer_scenario import build_answerer, build_busy_agent
from agi_app.tools.qa.ports import lease
from agi_app.tools.qa.runner import Answerer, run_callers
from agi_app.tools.qa.scenario import build_caller, parse_keys


async def _call(tmp_path: Path, n: int, port: int) -> tuple[bool, float]:
    xml = build_caller(parse_keys(""), tmp_path / f"c{n}", expect_cause=None)
    began = time.monotonic()
    r = await run_callers(
        xml,
        service="8613800000005",
        callers=[f"1390000700{n}"],
        calls=1,
        limit=1,
        timeout_s=10,
        target=f"127.0.0.1:{port}",
    )
    return r.successful == 1, time.monotonic() - began


def _free_sip_port() -> int:
    x = lease()
    x.release()
    return x.sip


async def test_each_call_gets_its_talk_time_and_is_logged(tmp_path: Path) -> None:
    port = _free_sip_port()
    agent = Answerer(build_answerer(tmp_path / "a", hold_ms=[1500, 200], name="agentx"), port)
    await agent.start()
    try:
        calls = [await _call(tmp_path, n, port) for n in range(3)]
    finally:
        await agent.stop()
    assert all(ok for ok, _ in calls), calls
    first, second, third = (took for _, took in calls)
    assert first > 1.5 and second < 1.2 and third < 1.2  # the last talk time repeats
    taken = agent.answered()
    assert [(a.to, a.caller, a.accepted) for a in taken] == [
        ("8613800000005", f"1390000700{n}", True) for n in range(3)
    ]
    assert taken[0].at < taken[1].at < taken[2].at


async def test_a_busy_agent_refuses_and_logs_it(tmp_path: Path) -> None:
    port = _free_sip_port()
    agent = Answerer(build_busy_agent(tmp_path / "b", name="busy"), port)
    await agent.start()
    try:
        ok, _ = await _call(tmp_path, 1, port)
    finally:
        await agent.stop()
    assert not ok  # 486 Busy Here
    assert [(a.caller, a.accepted) for a in agent.answered()] == [("13900007001", False)]

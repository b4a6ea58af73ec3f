"""`agi-app qa run` scenarios and parallel `qa call`s on the real stack (issue 19)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from agi_app.settings import PROJECT_ROOT
from agi_app.tools.qa.ports import udp_bound
from tests.conftest import AppProcess, admin

pytestmark = pytest.mark.e2e
CLI = str(PROJECT_ROOT / ".venv/bin/agi-app")
SCENARIOS = sorted((PROJECT_ROOT / "tests" / "qa").glob("*.yaml"))


def qa(*args: str, timeout: float = 110) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "qa", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_passes(app: AppProcess, scenario: Path) -> None:
    proc = qa("run", str(scenario))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout.splitlines()[-1]


def test_a_wrong_expected_order_fails_with_a_readable_report(
    app: AppProcess, tmp_path: Path
) -> None:
    text = (PROJECT_ROOT / "tests/qa/fastagi-route.yaml").read_text()
    wrong = text.replace("order: [occupier, gold, standard]", "order: [occupier, standard, gold]")
    assert wrong != text
    (tmp_path / "wrong-order.yaml").write_text(wrong)
    proc = qa("run", str(tmp_path / "wrong-order.yaml"))
    print(proc.stdout)  # the report, for `pytest -s`
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    fail = lines.index("FAIL order occupier < standard < gold: expected occupier, standard, gold")
    assert lines[fail + 1].startswith("    seen occupier (agent1 t+")
    assert ", gold (agent1 t+" in lines[fail + 1] and ", standard (agent1 t+" in lines[fail + 1]
    assert "PASS journey flow: outcome=completed" in proc.stdout
    assert lines[-1] == "result: 5 passed, 1 failed"


def test_ten_qa_calls_from_separate_processes_all_succeed(app: AppProcess) -> None:
    procs = [
        subprocess.Popen(
            [
                CLI,
                "qa",
                "call",
                "--from",
                f"1390001900{n}",
                "--to",
                "100",
                "--keys",
                "wait 1; 1",
                "--cause",
                "16",
                "--expect",
                "greeting[1] > announcement > bye",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(10)
    ]
    outs = [p.communicate(timeout=100)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 10, outs
    assert all("call: rc=0 ok=1" in out for out in outs)


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(c) for c in text.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


INTERRUPTED = """
description: interrupted on purpose
agents:
  agent1: {talk_s: 5}
  agent2: {busy: true}
callers:
  ivr: {number: "13900019100", line: "100", keys: "wait 20", cause: null}
  later: {number: "13900019101", line: "100", at: 60}
expect:
  - journey: ivr
"""


def _sipps_of(pid: int, count: int, timeout: float = 15) -> list[int]:
    """The SIPp children of ``pid`` once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while len(kids := _children(pid)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return kids


def test_ctrl_c_stops_every_sipp_and_puts_the_clock_back(app: AppProcess, tmp_path: Path) -> None:
    _, before = asyncio.run(admin(app.settings, "GET", "/admin/stats"))
    # A quiet day other than the test app's: a clock left behind would not
    # change the paths of the tests after this one, but the check below sees it.
    (tmp_path / "interrupted.yaml").write_text(INTERRUPTED + "clock: 2026-12-08T10:00+08:00\n")
    with subprocess.Popen(
        [CLI, "qa", "run", str(tmp_path / "interrupted.yaml")],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a shell gives a foreground job
    ) as proc:
        try:
            sipps = _sipps_of(proc.pid, 3)
            assert len(sipps) == 3, sipps  # agent1, agent2 and the caller
            began = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the shell does
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 130, out
    assert "ivr started" in out
    assert "interrupted: every SIPp of this run was stopped" in out
    assert not any(_alive(pid) for pid in sipps)
    assert not udp_bound(5071) and not udp_bound(5072)
    _, after = asyncio.run(admin(app.settings, "GET", "/admin/stats"))
    assert after["business_clock_overridden"] == before["business_clock_overridden"]
    if before["business_clock_overridden"]:
        moved = dt.datetime.fromisoformat(after["business_clock"]) - dt.datetime.fromisoformat(
            before["business_clock"]
        )
        assert abs(moved.total_seconds() - (time.monotonic() - began)) < 30


FORCED = """
description: load shedding forced to level 4 for the run
clock: 2026-12-09T10:00+08:00
shedding: 4
callers:
  unknown: {number: "13900019200", line: "10086", keys: "wait 2; 2; wait 4; 1; wait 6; 9"}
  diamond: {number: "13800000001", line: "10086", keys: "wait 2; 2; wait 4; 1; wait 6; 9"}
expect:
  - journey: unknown
    shedding_level: 4
    path: entry > peak_notice[2] > welcome > ...
  - journey: diamond
    shedding_level: 0
    path: entry > vip_menu[2] > ...
"""


def test_a_forced_shedding_level_applies_for_the_run_only(app: AppProcess, tmp_path: Path) -> None:
    (tmp_path / "forced.yaml").write_text(FORCED)
    proc = qa("run", str(tmp_path / "forced.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "setup: shedding level 4 for every caller not exempt" in proc.stdout
    _, after = asyncio.run(admin(app.settings, "GET", "/admin/stats"))
    assert after["shedding_override"] is None

"""FastAGI, dialplan snippets and the fallback on the real stack (issue 7)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agi_app.settings import PROJECT_ROOT
from tests.conftest import Agents, AppProcess, place_call, wait_journey

pytestmark = pytest.mark.e2e
CLI = str(PROJECT_ROOT / ".venv/bin/agi-app")


async def test_demo_flow_served_over_fastagi(app: AppProcess, db: Any, tmp_path: Path) -> None:
    since = dt.datetime.now(dt.UTC)
    result = await place_call(tmp_path, "7100", "13900004001", "wait 1; 1")
    assert result.successful == 1, result.output
    journey = await wait_journey(db, "13900004001", since)
    assert journey["via"] == "agi" and journey["outcome"] == "completed"
    assert [s["node"] for s in journey["steps"]] == ["greeting", "announcement", "bye"]


async def test_static_fallback_serves_callers_while_the_app_is_down(
    app: AppProcess, tmp_path: Path, agents: Agents
) -> None:
    agent = await agents.start("agent1", 5071, hold_ms=1500)
    app.stop()
    try:
        # Stasis fails, FastAGI is down too: the static menu, 0 for an agent.
        result = await place_call(tmp_path, "100", "13900004002", "wait 2; 0", cause=None)
        assert result.successful == 1, result.output
    finally:
        app.start()
    await agent.stop()
    assert agent.stats().successful == 1  # the caller really reached an agent


def _install(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "dialplan", "install", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_broken_snippet_is_refused_and_the_old_dialplan_serves(
    app: AppProcess, tmp_path: Path
) -> None:
    snippets = tmp_path / "snippets"
    shutil.copytree(PROJECT_ROOT / "dialplan", snippets)
    (snippets / "05-broken.conf").write_text("[broken\nexten => 1,1,Answer(\n")
    proc = _install(snippets)
    assert proc.returncode == 1
    assert "05-broken.conf:1: malformed section header" in proc.stderr
    result = await place_call(tmp_path, "100", "13900004003", "wait 1; 1")
    assert result.successful == 1, result.output


async def test_valid_snippets_install_and_verify(app: AppProcess, tmp_path: Path) -> None:
    proc = _install(PROJECT_ROOT / "dialplan")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Installed and verified" in proc.stdout
    result = await place_call(tmp_path, "100", "13900004004", "wait 1; 1")
    assert result.successful == 1, result.output


async def test_route_only_mode_queues_on_the_variables_it_set(
    app: AppProcess, tmp_path: Path, agents: Agents
) -> None:
    """6<number>: the app only decides; the dialplan queues on AGI_APP_QUEUE/QUEUE_PRIO."""
    agent = await agents.start("agent1", 5071, hold_ms=1500)
    result = await place_call(tmp_path, "6100", "13800000003", "", cause=16)
    assert result.successful == 1, result.output
    await agent.stop()
    assert agent.stats().successful == 1  # gold caller -> support queue -> agent1

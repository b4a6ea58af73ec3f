"""TTS faults on the real stack (issue 15): the pyttsx3 worker killed, and the
dynamic prompt folder read-only. Calls still hear a prompt (the fallback
engine's render, or a static prompt) and their journeys say which.

The 10086 line renders at call time: its main menu is composed per call
(ordered by load shedding) and the balance is read out from a template.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agi_app.core.speech.protocol import STATIC
from agi_app.settings import Settings
from tests.conftest import AppProcess, place_call, wait_journey
from tests.e2e.faultkit import LogTail, escaped_exceptions

pytestmark = pytest.mark.e2e
CALLER, KEYS = "13800000005", "wait 6; 1; wait 6; 9"
STAND_IN = "agi_app/static/prompt_unavailable"
PATH = ["entry", "welcome", "main[1]", "balance", "say_balance", "after_service[9]", "bye"]


def _path(journey: dict[str, Any]) -> list[str]:
    return [s["node"] + (f"[{s['digits']}]" if s["digits"] else "") for s in journey["steps"]]


def _rendered(journey: dict[str, Any]) -> dict[str, str]:
    """Every sound the call's steps say was rendered now (or stood in for), and how."""
    out: dict[str, str] = {}
    for step in journey["steps"]:
        out.update(json.loads(step["detail"]).get("rendered", {}))
    return out


def _heard(journey: dict[str, Any]) -> list[str]:
    return [
        p["sound"] for s in journey["steps"] for p in json.loads(s["detail"]).get("prompts", [])
    ]


def _clear_dynamic(s: Settings) -> Path:
    """Remove the call-time prompts, so the next call renders them; the zh folder."""
    for f in s.sounds_dir.glob("cache/*/dyn/*"):
        f.unlink()
    folder = s.sounds_dir / "cache" / "zh" / "dyn"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _missing_sounds(log: LogTail) -> list[str]:
    return [
        line
        for line in log.text().splitlines()
        if "agi_app/" in line and ("does not exist" in line or "Unable to open" in line)
    ]


def _tts_workers(app_pid: int) -> list[int]:
    """The app's TTS worker processes (spawned multiprocessing children)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
            if ppid == app_pid and b"spawn_main" in cmdline:
                found.append(int(stat.parent.name))
    return found


async def _kill_workers(app_pid: int, killed: list[int]) -> None:
    """Kill every TTS worker of the app as soon as it appears, until cancelled."""
    while True:
        for pid in _tts_workers(app_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        await asyncio.sleep(0.02)


async def test_tts_worker_killed_calls_hear_the_fallback_engine(
    app: AppProcess, stack: Settings, db: Any, tmp_path: Path
) -> None:
    assert app.proc is not None
    _clear_dynamic(stack)
    ast_log = LogTail(stack.asterisk_root / "var/log/asterisk/messages.log")
    log = LogTail(app.log_path)
    killed: list[int] = []
    killer = asyncio.create_task(_kill_workers(app.proc.pid, killed))
    since = dt.datetime.now(dt.UTC)
    try:
        result = await place_call(tmp_path, "10086", CALLER, KEYS)
    finally:
        killer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await killer
    assert result.successful == 1, result.output
    journey = await wait_journey(db, CALLER, since)
    assert _path(journey) == PATH and journey["outcome"] == "completed"
    sources = _rendered(journey)
    assert len(sources) >= 2  # the composed menu and the balance, rendered now
    assert all(v.startswith("espeak-ng") for v in sources.values()), sources
    for sound in sources:  # rendered, and played from where Asterisk reads it
        assert sound in _heard(journey)
        assert (stack.sounds_dir / f"{sound.removeprefix('agi_app/')}.wav").exists()
    assert _missing_sounds(ast_log) == []
    assert escaped_exceptions(log.text()) == []
    print(f"\nTTS workers killed: {len(killed)}; rendered by: {sorted(set(sources.values()))}")


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only for everyone, root included (a read-only bind mount)."""
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=False)


async def test_dynamic_prompt_folder_read_only_calls_hear_a_static_prompt(
    app: AppProcess, stack: Settings, db: Any, tmp_path: Path
) -> None:
    folder = _clear_dynamic(stack)
    stand_in = stack.sounds_dir / "static" / "prompt_unavailable.wav"
    assert stand_in.exists(), "run `agi-app prompts render` (make setup does)"
    ast_log = LogTail(stack.asterisk_root / "var/log/asterisk/messages.log")
    log = LogTail(app.log_path)
    since = dt.datetime.now(dt.UTC)
    with read_only(folder):
        with pytest.raises(OSError):
            (folder / "probe").write_bytes(b"")
        result = await place_call(tmp_path, "10086", CALLER, KEYS)
    assert result.successful == 1, result.output
    journey = await wait_journey(db, CALLER, since)
    assert _path(journey) == PATH and journey["outcome"] == "completed"
    sources = _rendered(journey)
    assert sources == {STAND_IN: STATIC}
    heard = _heard(journey)
    assert heard.count(STAND_IN) >= 2  # the menu's parts, the balance
    assert not [h for h in heard if "/dyn/" in h]
    assert "not rendered" in log.text()
    assert _missing_sounds(ast_log) == []
    assert escaped_exceptions(log.text()) == []
    print(f"\nread-only {folder}: {heard.count(STAND_IN)} of {len(heard)} prompts stood in")

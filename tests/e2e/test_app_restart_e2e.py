"""The app restarted under load with SIGTERM (issue 15).

Calls in a flow when the app is told to stop get ``drain_s`` to finish; those
still in a flow then go to the dialplan's static menu (journey outcome
``fallback``, a ``handed-off`` step). Calls that arrive meanwhile, while the
app drains or is down, go to the static menu as well; the dialplan records
them and the next app imports them (``via`` ``static``). Every call is
accounted for: none dropped silently.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from agi_app.settings import Settings
from agi_app.tools.qa.hostile import build_hangs_up_after
from agi_app.tools.qa.runner import SippResult, run_callers
from tests.conftest import AppProcess
from tests.e2e.faultkit import LogTail, escaped_exceptions, journeys, load, new_callers, until

pytestmark = pytest.mark.e2e
DRAIN_S = 6


def _holding(
    tmp_path: Path, callers: list[str], hold_ms: int, rate: float
) -> asyncio.Task[SippResult]:
    """Callers who stay ``hold_ms`` (pressing nothing) and hang up."""
    scenario = build_hangs_up_after(tmp_path / f"hold-{time.monotonic_ns()}", hold_ms)
    return asyncio.create_task(
        run_callers(
            scenario, service="100", callers=callers, calls=len(callers), rate=rate,
            limit=len(callers), timeout_s=60,
        )
    )  # fmt: skip


@pytest.mark.timeout(120)
async def test_sigterm_under_load_finishes_or_hands_off_calls_and_records_both_kinds(
    app: AppProcess, stack: Settings, tmp_path: Path
) -> None:
    app.stop()  # one app on the stack at a time: the session's steps aside
    try:
        await _restart_run(stack, tmp_path)
    finally:
        app.start()


async def _restart_run(stack: Settings, tmp_path: Path) -> None:
    env = {"AGI_APP_DRAIN_S": str(DRAIN_S)}
    own = AppProcess(stack, stack.var_dir / "log" / "app-restart-test.log")
    own.quiet_clock = True
    own.start(env)
    log = LogTail(own.log_path)
    short, long_, later = new_callers(3), new_callers(3), new_callers(4)
    since = dt.datetime.now(dt.UTC)
    try:
        finishing = load(tmp_path, short, rate=10, keys="wait 1; 1")  # done within the drain
        staying = _holding(tmp_path, long_, 15_000, rate=10)  # still in a flow after it
        await until(lambda: _active(own, 6), 15, "six calls in a flow")
        assert own.proc is not None
        own.proc.send_signal(signal.SIGTERM)
        t_term = time.monotonic()
        arriving = _holding(tmp_path, later, 4_000, rate=1)  # during the drain and after
        exit_code = await asyncio.to_thread(own.proc.wait, 30)
        stop_s = time.monotonic() - t_term
        results = await asyncio.gather(finishing, staying, arriving)
        own.stop()
        assert exit_code == 0
        for group, result in zip((short, long_, later), results, strict=True):
            assert (result.successful, result.failed) == (len(group), 0), result.output
        offset = LogTail(own.log_path)
        own.start(env)  # the next app imports the static menu's records
        await until(lambda: _ended(stack, short + long_ + later, since), 30, "every journey")
    finally:
        own.stop()
    rows = {r["caller"]: r for r in await journeys(stack, short + long_ + later, since)}
    finished = [rows[c] for c in short]
    handed = [rows[c] for c in long_]
    static = [rows[c] for c in later]
    assert {(r["via"], r["outcome"]) for r in finished} == {("ari", "completed")}
    assert {(r["via"], r["outcome"]) for r in handed} == {("ari", "fallback")}
    assert all(r["path"].endswith("handed-off") for r in handed), [r["path"] for r in handed]
    assert {(r["via"], r["outcome"], r["queue"]) for r in static} == {
        ("static", "fallback", "support")
    }
    assert all(r["ended_at"] > r["started_at"] for r in handed + static)
    text = log.text()
    assert "3 calls still in a flow handed to the dialplan fallback" in text
    assert "static menu: " in offset.text() and "calls imported into the journeys" in offset.text()
    assert escaped_exceptions(text) == []
    print(
        f"\nSIGTERM with 6 calls in a flow: stopped in {stop_s:.1f} s (drain {DRAIN_S} s);"
        f" {len(finished)} finished, {len(handed)} handed to the static menu,"
        f" {len(static)} new calls served by the static menu and imported"
    )


async def _active(app: AppProcess, n: int) -> bool:
    return int((await app.metrics())["active_calls"]) >= n


async def _ended(
    s: Settings, callers: list[str], since: dt.datetime
) -> list[dict[str, Any]] | None:
    rows = await journeys(s, callers, since, ended_only=True)
    return rows if len(rows) == len(callers) else None

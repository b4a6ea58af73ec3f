"""Walking skeleton on the real stack: SIPp -> Asterisk 22 -> ARI app -> PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest

from agi_app.adapters.ari.rest import AriRest
from agi_app.settings import Settings
from agi_app.tools.qa.runner import run_callers
from agi_app.tools.qa.scenario import build_caller, parse_keys
from agi_app.tools.stack import asterisk
from tests.conftest import AppProcess, admin, wait_app_registered, wait_journey

pytestmark = pytest.mark.e2e
DEMO = "100"


def new_caller() -> str:
    return f"1390{random.randrange(10**7):07d}"


async def call(
    tmp_path: Path, keys: str, cause: int, callers: list[str], calls: int = 1, rate: float = 10
) -> Any:
    scenario = build_caller(parse_keys(keys), tmp_path / "sc", expect_cause=cause)
    return await run_callers(
        scenario, service=DEMO, callers=callers, calls=calls, rate=rate, limit=calls, timeout_s=90
    )


async def test_press_1_completes_with_cause_16(app: AppProcess, db: Any, tmp_path: Path) -> None:
    since, who = dt.datetime.now(dt.UTC), new_caller()
    result = await call(tmp_path, "wait 1; 1", 16, [who])
    assert (result.successful, result.failed) == (1, 0), result.output
    journey = await wait_journey(db, who, since)
    assert journey["outcome"] == "completed"
    assert journey["hangup_cause"] == 16
    assert journey["called"] == DEMO
    assert "1" in [s["digits"] for s in journey["steps"]]


# The demo flow's timeout path, with its timeouts shortened: three silent tries
# of 5 s each would cost the suite half a minute for the same mechanism.
QUICK_TIMEOUT = """
id: zz_quick_timeout
language: zh
entry_numbers: ["5550131"]
start: greeting
nodes:
  greeting:
    type: menu
    prompt: 请按一。
    choices: {"1": bye}
    timeout_s: 1
    max_retries: 2
    on_failure: giveup
  bye: {type: hangup, cause: 16}
  giveup: {type: hangup, cause: 31, outcome: timeout}
"""


async def test_no_digit_takes_the_timeout_path(app: AppProcess, db: Any, tmp_path: Path) -> None:
    assert app.flows_dir is not None
    flow = app.flows_dir / "zz_quick_timeout.yaml"
    flow.write_text(QUICK_TIMEOUT, encoding="utf-8")
    try:
        status, body = await admin(app.settings, "POST", "/admin/reload")
        assert status == 200, body
        since, who = dt.datetime.now(dt.UTC), new_caller()
        scenario = build_caller(parse_keys(""), tmp_path / "sc", expect_cause=31)
        result = await run_callers(
            scenario, service="5550131", callers=[who], calls=1, rate=1, limit=1, timeout_s=60
        )
        assert (result.successful, result.failed) == (1, 0), result.output
        journey = await wait_journey(db, who, since)
        assert journey["outcome"] == "timeout"
        assert journey["hangup_cause"] == 31
        [menu] = [s for s in journey["steps"] if s["node"] == "greeting"]
        assert json.loads(menu["detail"])["timeouts"] == 3  # three tries in all
    finally:
        flow.unlink()
        await admin(app.settings, "POST", "/admin/reload")


async def test_twenty_concurrent_calls_all_complete(
    app: AppProcess, db: Any, tmp_path: Path
) -> None:
    since = dt.datetime.now(dt.UTC)
    callers = [new_caller() for _ in range(20)]
    result = await call(tmp_path, "wait 1; 1", 16, callers, calls=20, rate=50)
    assert (result.successful, result.failed) == (20, 0), result.output
    for who in callers:
        assert (await wait_journey(db, who, since))["outcome"] == "completed"


async def test_app_reconnects_after_asterisk_restart(
    app: AppProcess, stack: Settings, db: Any, tmp_path: Path
) -> None:
    asterisk.stop(stack.asterisk_root)
    asterisk.start(stack, stack.asterisk_root)
    await wait_app_registered(stack, 30)  # the app found Asterisk again by itself
    since, who = dt.datetime.now(dt.UTC), new_caller()
    result = await call(tmp_path, "wait 1; 1", 16, [who])
    assert (result.successful, result.failed) == (1, 0), result.output
    assert (await wait_journey(db, who, since))["outcome"] == "completed"


async def wait_in_stasis(rest: AriRest, caller: str, timeout: float = 30) -> None:
    """Until ARI lists a channel from ``caller`` inside the application."""
    async with asyncio.timeout(timeout):
        while True:
            for ch in await rest.channels():
                in_app = (ch.get("dialplan") or {}).get("app_name") == "Stasis"
                if in_app and (ch.get("caller") or {}).get("number") == caller:
                    return
            await asyncio.sleep(0.1)


async def test_full_house_is_refused_busy_in_the_dialplan_before_stasis(
    app: AppProcess, db: Any, tmp_path: Path
) -> None:
    """Over AGI_APP_MAX_CALLS the dialplan answers 486 itself: no ARI work per refusal."""
    from agi_app.adapters.ari.app import MAX_CALLS_VAR

    s = app.settings
    rest = AriRest(s.ari_base, s.ari_user, s.ari_password.get_secret_value(), s.ari_app)
    log = s.asterisk_root / "var/log/asterisk/messages.log"
    offset = log.stat().st_size
    first, second = new_caller(), new_caller()
    since = dt.datetime.now(dt.UTC)
    await rest.set_global(MAX_CALLS_VAR, "1")
    try:
        inside = asyncio.create_task(call(tmp_path / "a", "wait 5; 1", 16, [first]))
        await wait_in_stasis(rest, first)  # the first call is in the flow: the house is full
        refused = await call(tmp_path / "b", "wait 1; 1", 16, [second])
        assert refused.failed == 1 and refused.successful == 0  # 486 Busy, not answered
        assert (await inside).successful == 1
    finally:
        await rest.set_global(MAX_CALLS_VAR, str(s.max_concurrent_calls))
        await rest.close()
    with log.open("rb") as fh:
        fh.seek(offset)
        assert fh.read().count(b"hotline full: refused") == 1
    assert (await wait_journey(db, first, since))["outcome"] == "completed"
    assert await db.fetchval("SELECT count(*) FROM calls WHERE caller = $1", second) == 0
    # Back to the app's own limit: the next call is served.
    again = await call(tmp_path / "c", "wait 1; 1", 16, [new_caller()])
    assert again.successful == 1

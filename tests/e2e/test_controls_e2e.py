"""Operator controls on the real stack: the store and its audit in PostgreSQL,
the CLI commands, and a SIPp call that records the forced level (rule manual)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from agi_app.adapters.postgres.controls import PgControlStore
from agi_app.settings import PROJECT_ROOT, Settings
from tests.conftest import AppProcess, admin, place_call, wait_journey

pytestmark = pytest.mark.e2e
CLI = str(PROJECT_ROOT / ".venv/bin/agi-app")


async def app_controls(
    s: Settings, holds: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> dict[str, Any]:
    """The running app's controls once ``holds`` is true of them (it reads the
    store about every second)."""
    async with asyncio.timeout(timeout):
        while True:
            status, body = await admin(s, "GET", "/api/controls")
            assert status == 200, body
            if holds(body["controls"]):
                return dict(body["controls"])
            await asyncio.sleep(0.1)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, check=False)


async def test_store_round_trip_with_audit(stack: Settings) -> None:
    pool = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=2)

    async def get_pool() -> Any:
        return pool

    store = PgControlStore(get_pool)
    # A line no call dials: the running app may read this split before it is cleared.
    body = {"line": "e2e-line", "flow_a": "demo_ivr", "flow_b": "mobile_10086", "share": 0.5}
    try:
        await store.clear("ab_split", "e2e-line", "e2e")
        assert await store.put("ab_split", "e2e-line", body, None, "e2e") is None
        assert (await store.load()).splits["e2e-line"].share == 0.5
        past = {"level": 2, "until": "2000-01-01T00:00:00+00:00", "reason": "old"}
        await store.put("escalation", "", past, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), "e2e")
        assert (await store.load()).escalation is None  # expired rows are not read
        await store.clear("escalation", "", "e2e")
        assert await store.clear("ab_split", "e2e-line", "e2e") == body
        audit = await store.audit(4)
        assert [(a["action"], a["kind"]) for a in audit][:2] == [
            ("clear", "ab_split"),
            ("clear", "escalation"),
        ]
        assert audit[0]["before"] == body and audit[0]["after"] is None
        assert all(a["who"] == "e2e" for a in audit)
    finally:
        await pool.close()


def test_cli_refuses_bad_input_and_changes_nothing(stack: Settings) -> None:
    for args, error in (
        (("shedding", "force", "7", "--minutes", "5", "--reason", "x"), "level must be"),
        (("ab", "set", "10086", "mobile_10086", "demo_ivr", "--share", "1.5"), "share"),
        (("ab", "set", "55555", "mobile_10086", "demo_ivr"), "unknown line"),
        (("announce", "set", "停电", "--lines", "55555"), "unknown line"),
    ):
        proc = cli(*args)
        assert proc.returncode == 2 and error in proc.stderr, (args, proc.stdout, proc.stderr)
    shown = cli("shedding", "show")
    assert shown.returncode == 0 and shown.stdout.strip() == "null"


def test_announcement_that_cannot_be_rendered_is_an_error_and_changes_nothing(
    stack: Settings, tmp_path: Path
) -> None:
    """A sounds folder the text cannot be rendered into (here a file): one error
    line and exit 1, and no announcement stored (it was a traceback)."""
    before = cli("announce", "show")
    not_a_folder = tmp_path / "sounds"
    not_a_folder.write_text("")
    proc = subprocess.run(
        [CLI, "announce", "set", "系统维护通知 maintenance tonight", "--minutes", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "AGI_APP_SOUNDS_DIR": str(not_a_folder)},
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: the announcement's text could not be rendered: ")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert cli("announce", "show").stdout == before.stdout


async def test_forced_level_from_the_cli_reaches_the_next_call(
    app: AppProcess, db: Any, tmp_path: Path
) -> None:
    proc = cli("shedding", "force", "2", "--minutes", "5", "--reason", "e2e drill")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        await app_controls(app.settings, lambda c: c["escalation"] is not None)
        since = dt.datetime.now(dt.UTC)
        result = await place_call(tmp_path, "100", "13900007001", "wait 1; 1")
        assert result.successful == 1, result.output
        journey = await wait_journey(db, "13900007001", since)
        assert (journey["shedding_level"], journey["shedding_rule"]) == (2, "manual")
    finally:
        assert cli("shedding", "clear").returncode == 0
        # The next test's calls must not meet the level the app has not yet dropped.
        await app_controls(app.settings, lambda c: c["escalation"] is None)
    audit = await db.fetch(
        "SELECT action, who FROM control_audit WHERE kind = 'escalation' ORDER BY id DESC LIMIT 2"
    )
    assert [a["action"] for a in audit] == ["clear", "set"]
    assert all(a["who"].startswith("cli") for a in audit)

"""Demo flows on the real stack: deep paths, both languages, hot reload (issue 3)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AppProcess, admin, place_call, wait_journey

pytestmark = pytest.mark.e2e


def path_of(journey: dict[str, Any]) -> list[str]:
    return [s["node"] + (f"[{s['digits']}]" if s["digits"] else "") for s in journey["steps"]]


async def test_10086_balance_is_read_out(app: AppProcess, db: Any, tmp_path: Path) -> None:
    since = dt.datetime.now(dt.UTC)
    result = await place_call(tmp_path, "10086", "13800000005", "wait 6; 1; wait 6; 9")
    assert result.successful == 1, result.output
    journey = await wait_journey(db, "13800000005", since)
    assert path_of(journey) == [
        "entry",
        "welcome",
        "main[1]",
        "balance",
        "say_balance",
        "after_service[9]",
        "bye",
    ]
    assert journey["outcome"] == "completed"
    assert journey["grade"] == "standard"
    assert journey["flow"] == "mobile_10086"


async def test_bank_line_in_english_reads_card_balance(
    app: AppProcess, db: Any, tmp_path: Path
) -> None:
    since = dt.datetime.now(dt.UTC)
    keys = "wait 1; 2; wait 2; 1; wait 3; 0007#; wait 7; 9"
    result = await place_call(tmp_path, "95555", "13800000007", keys)
    assert result.successful == 1, result.output
    journey = await wait_journey(db, "13800000007", since)
    assert path_of(journey) == [
        "choose_language_zh",
        "choose_language[2]",
        "set_en",
        "main[1]",
        "card_for_balance[0007]",
        "do_balance",
        "say_balance",
        "after[9]",
        "bye",
    ]


async def test_reload_refuses_a_broken_flow_and_keeps_serving(
    app: AppProcess, db: Any, tmp_path: Path
) -> None:
    assert app.flows_dir is not None
    status, before = await admin(app.settings, "POST", "/admin/reload")
    assert status == 200 and before["ok"]
    broken = app.flows_dir / "zz_broken.yaml"
    broken.write_text(
        "id: broken\nstart: a\nnodes:\n  a: {type: play, prompts: [x], next: nowhere}\n"
    )
    try:
        status, refused = await admin(app.settings, "POST", "/admin/reload")
        assert status == 422 and not refused["ok"]
        assert refused["version"] == before["version"]
        assert any("unknown target 'nowhere'" in e for e in refused["errors"])
        since = dt.datetime.now(dt.UTC)
        result = await place_call(tmp_path, "100", "13900001111", "wait 1; 1")
        assert result.successful == 1, result.output
        journey = await wait_journey(db, "13900001111", since)
        assert journey["flow_version"] == before["version"]
    finally:
        broken.unlink()
    status, after = await admin(app.settings, "POST", "/admin/reload")
    assert status == 200 and after["version"] == before["version"]


@pytest.mark.parametrize(
    "script", sorted((Path(__file__).parents[1] / "qa").glob("*.sh")), ids=lambda p: p.stem
)
def test_qa_scripts_pass(app: AppProcess, script: Path) -> None:
    proc = subprocess.run([str(script)], capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_qa_call_reports_a_path_mismatch(app: AppProcess) -> None:
    cli = str(Path(__file__).parents[2] / ".venv/bin/agi-app")
    proc = subprocess.run(
        [
            cli,
            "qa",
            "call",
            "--from",
            "13900005001",
            "--to",
            "100",
            "--keys",
            "wait 1; 1",
            "--expect",
            "greeting > somewhere_else",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert "MISMATCH: path differs" in proc.stdout
    assert "greeting[1] > announcement > bye" in proc.stdout


def test_asterisk_found_every_rendered_prompt(app: AppProcess) -> None:
    """After the calls above, Asterisk logged no missing or unreadable prompt of ours."""
    log = app.settings.asterisk_root / "var/log/asterisk/messages.log"
    with log.open("rb") as fh:
        fh.seek(app.asterisk_log_offset)
        text = fh.read().decode(errors="replace")
    bad = [
        line
        for line in text.splitlines()
        if "agi_app/" in line
        and ("does not exist" in line or "Unable to open" in line or "not found" in line.lower())
    ]
    assert bad == []

"""Demo flows on the real stack: deep paths in both languages (the shipped QA
scripts, tests/qa/*.sh, each checking its journey's path), hot reload (issue 3)."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AppProcess, admin, place_call, wait_journey

pytestmark = pytest.mark.e2e


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


def test_qa_call_with_a_junk_caller_id_reaches_the_app(app: AppProcess) -> None:
    """Junk in --from is percent-encoded for SIP; Asterisk decodes it, keeps what
    is before the first ';', and the app records it as the caller (it used to
    make SIPp send an INVITE Asterisk dropped: five retransmissions, no call)."""
    cli = str(Path(__file__).parents[2] / ".venv/bin/agi-app")
    junk = f'"><script>{random.randrange(10**6)} x'
    expect = [
        "--keys",
        "wait 1; 1",
        "--cause",
        "16",
        "--expect",
        "greeting[1] > announcement > bye",
    ]
    proc = subprocess.run(
        [cli, "qa", "call", "--from", f"{junk};DROP TABLE calls", "--to", "100", *expect],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "note: --from sent percent-encoded" in proc.stdout
    assert "grade=None" in proc.stdout  # an unknown caller, not a lookup failure


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

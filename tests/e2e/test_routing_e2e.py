"""Grades, queue priority and resilience on the real stack (issue 4)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agi_app.settings import PROJECT_ROOT, Settings
from agi_app.tools.stack import postgres
from tests.conftest import AppProcess, place_call, wait_journey

pytestmark = pytest.mark.e2e


PRESSED_SQL = (
    "SELECT 1 FROM call_steps s JOIN calls c ON c.id = s.call_id"
    " WHERE c.caller = $1 AND c.started_at >= $2 AND s.digits = $3 LIMIT 1"
)


async def test_unknown_and_junk_callers_take_the_standard_path(
    app: AppProcess, db: Any, tmp_path: Path
) -> None:
    since = dt.datetime.now(dt.UTC)
    for caller in ("19912345678", "anonymous"):
        result = await place_call(tmp_path, "100", caller, "wait 1; 1")
        assert result.successful == 1, result.output
        journey = await wait_journey(db, caller, since)
        assert journey["lookup"] == "unknown" and journey["grade"] is None
        assert journey["outcome"] == "completed"


async def test_calls_are_served_while_postgres_is_down(
    app: AppProcess, stack: Settings, db: Any, tmp_path: Path
) -> None:
    since = dt.datetime.now(dt.UTC)
    postgres.stop(stack)
    try:
        result = await place_call(tmp_path, "100", "13800000003", "wait 1; 1")
        assert result.successful == 1, result.output  # answered on the default path
    finally:
        postgres.start(stack)
    import asyncpg

    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        journey = await wait_journey(conn, "13800000003", since, timeout=30)
    finally:
        await conn.close()
    assert journey["lookup"] == "lookup_failed"  # written once PostgreSQL was back
    assert journey["outcome"] == "completed"


def test_import_reports_bad_rows_and_lands_good_ones(stack: Settings, tmp_path: Path) -> None:
    csv_file = tmp_path / "crm.csv"
    csv_file.write_text(
        "number,name,grade,brand,tags,language,bill_day,status,last_agent,last_contact_at\n"
        "13700000001,Good One,gold,x,a;b,zh,5,active,,\n"
        "not-a-number,Bad,gold,x,,zh,5,active,,\n"
        "13700000002,Bad Grade,emperor,x,,zh,5,active,,\n"
        "13700000003,Good Two,standard,x,,en,31,suspended,agent1,2026-11-01T10:00:00+08:00\n"
        "13700000004,Bad Day,standard,x,,zh,32,active,,\n"
    )
    cli = str(PROJECT_ROOT / ".venv/bin/agi-app")
    for _ in range(2):  # importing the same file twice changes nothing more
        proc = subprocess.run(
            [cli, "customers", "import", str(csv_file)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 1
        assert f"{csv_file}:3: bad number 'not-a-number'" in proc.stderr
        assert f"{csv_file}:4: unknown grade 'emperor'" in proc.stderr
        assert f"{csv_file}:6: bad bill day '32'" in proc.stderr
        assert "imported 2 row(s); 3 bad row(s) refused" in proc.stdout
    export = subprocess.run(
        [cli, "customers", "export"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "+8613700000001,Good One,gold,x,a;b,zh,5,active" in export
    assert "+8613700000003,Good Two,standard" in export


def _import(csv_file: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/agi-app"), "customers", "import", str(csv_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _export() -> str:
    return subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/agi-app"), "customers", "export"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def test_import_of_a_real_crm_export(stack: Settings, tmp_path: Path) -> None:
    """Empty optional fields, a BOM, CRLF, columns reordered, unknown columns."""
    csv_file = tmp_path / "export.csv"
    csv_file.write_bytes(
        "\ufeffCRM_ID,grade,number,name,language,bill_day,segment\r\n"
        "A1,gold,13700000011,王五,,,north\r\n"
        "A2,standard,13700000012,Smith,en,,\r\n"
        "A3,standard,junk,Nobody,,,\r\n".encode()
    )
    proc = _import(csv_file)
    assert proc.returncode == 1, proc.stdout
    assert "warning: " in proc.stderr and "'crm_id', 'segment'" in proc.stderr
    assert f"{csv_file}:4: bad number 'junk'" in proc.stderr
    assert "imported 2 row(s); 1 bad row(s) refused" in proc.stdout
    export = _export()
    assert "+8613700000011,王五,gold,,,,,active,," in export  # defaults: no language, bill day
    assert "+8613700000012,Smith,standard,,,en,,active,," in export


def test_an_oversized_import_is_refused_before_writing(stack: Settings, tmp_path: Path) -> None:
    csv_file = tmp_path / "big.csv"
    csv_file.write_text("number,grade\n" + "13700000021,gold\n" * 100)
    proc = _import(csv_file, {"AGI_APP_IMPORT_MAX_BYTES": "1000"})
    assert proc.returncode == 2
    assert "over the limit of 1,000 (AGI_APP_IMPORT_MAX_BYTES): nothing imported" in proc.stderr
    rows = _import(csv_file, {"AGI_APP_IMPORT_MAX_ROWS": "10"})
    assert rows.returncode == 2 and "more than 10 rows: nothing imported" in rows.stderr
    for empty in ("", "number,grade\n", "\ufeff\r\n\r\n"):
        csv_file.write_text(empty)
        proc = _import(csv_file)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"error: {csv_file}: no customer rows in it: nothing imported" in proc.stderr
    export = _export()
    assert "+8613700000021" not in export

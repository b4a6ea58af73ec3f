"""The command line's failures as a new user meets them: one ``error:`` line on
stderr and an exit status, never a traceback. PostgreSQL "down" is a closed
port (AGI_APP_PG_PORT=1): the real refusal, no fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agi_app.entry.cli import main
from agi_app.settings import get_settings


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AGI_APP_PG_PORT", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()  # the next test reads its own environment


PERIOD = ("--from", "2026-12-01", "--to", "2026-12-07")


@pytest.mark.parametrize(
    "argv",
    [
        ("journeys", "--last", "5"),
        ("journeys", "partitions"),
        ("customers", "export"),
        ("customers", "import", "{csv}"),
        ("customers", "demo"),
        ("report", *PERIOD),
        ("report", *PERIOD, "--variants"),
        ("migrate",),
        *(("analytics", name, *PERIOD) for name in ("funnel", "paths", "repeats", "staffing")),
        ("analytics", "risk", *PERIOD),
        ("analytics", "generate", "--start", "2026-12-01", "--days", "1"),
        ("shedding", "show"),
        ("ab", "show"),
        ("announce", "show"),
        ("cluster", "status"),
    ],
    ids=" ".join,
)
def test_a_database_command_says_the_database_is_down(
    argv: tuple[str, ...],
    database_down: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text("number,name,grade\n13800000001,A,standard\n")
    assert main([a.replace("{csv}", str(csv)) for a in argv]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    first, where = err.splitlines()
    assert first.startswith("error: the database is not reachable: ")
    assert "Connect call failed" in first
    assert "PostgreSQL at 127.0.0.1:1 (AGI_APP_PG_HOST, AGI_APP_PG_PORT)" in where

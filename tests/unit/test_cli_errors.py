"""The command line's failures as a new user meets them: one ``error:`` line on
stderr and an exit status, never a traceback. PostgreSQL "down" is a closed
port (AGI_APP_PG_PORT=1): the real refusal, no fake."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from agi_app.entry.cli import main, run_command
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


BACKWARDS = ("--from", "2026-12-07", "--to", "2026-12-01")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("report", *BACKWARDS), "--to is before --from"),
        (("report", *PERIOD, "--variants", "--node", "n1"), "--node filters the daily figures"),
        (("analytics", "funnel", *BACKWARDS), "--to is before --from"),
        (("analytics", "risk", *BACKWARDS), "--to is before --from"),
        (("clock", "set", "next tuesday"), "Invalid isoformat string"),
        (("clock", "show"), "the app is not reachable at http://127.0.0.1:1"),
        (("flows", "reload"), "the app is not reachable at http://127.0.0.1:1"),
        (("flows", "graph", "no_such_flow", "-o", "{tmp}/g.svg"), "no flow 'no_such_flow'"),
        (("qa", "call", "--from", "1", "--to", "100", "--keys", "wait; x"), "cannot read key"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_errors_go_to_stderr(
    argv: tuple[str, ...],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGI_APP_ADMIN_PORT", "1")  # no app there
    get_settings.cache_clear()
    try:
        assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 1
    finally:
        get_settings.cache_clear()
    out, err = capsys.readouterr()
    assert out == ""  # stdout stays for results, to pipe
    assert err.startswith("error: ") and message in err


def test_flow_errors_and_their_count_go_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text("nodes: [unclosed\n")
    assert main(["flows", "check", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    first, count = err.splitlines()
    assert first.startswith("error: bad.yaml: not valid YAML")
    assert count == "1 error(s)"


def test_snippet_errors_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "05-broken.conf").write_text("[broken\nexten => 1,1,Answer(\n")
    assert main(["dialplan", "check", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == "error: 05-broken.conf:1: malformed section header: [broken"


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
    ],
    ids=["closed", "admin-shutdown", "shutting-down"],
)
def test_a_database_lost_during_a_command_is_one_error_line(
    exc: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was a traceback (`journeys`, `report`, `analytics` once connected)."""

    def command(_args: argparse.Namespace) -> int:
        raise exc

    assert run_command(command, argparse.Namespace()) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: the database connection was lost during the command: ")


def test_any_other_failure_is_not_called_a_lost_database() -> None:
    def command(_args: argparse.Namespace) -> int:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_command(command, argparse.Namespace())

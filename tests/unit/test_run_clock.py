"""`agi-app run --clock` with a time the business clock refuses: one error line
and exit 2 before anything starts (it was a traceback from wiring)."""

from __future__ import annotations

import pytest

from agi_app.entry.cli import main
from agi_app.entry.cli.run import clock_problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1999-12-31T23:59", "the business clock must be in 2000-2199"),
        ("9999-12-31T23:59:59.999999", "the business clock must be in 2000-2199"),
        ("tomorrow", "Invalid isoformat string"),
    ],
)
def test_run_refuses_a_clock_it_cannot_start_from(
    value: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--clock", value]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: --clock: ") and problem in err


def test_a_clock_in_range_is_no_problem() -> None:
    assert clock_problem("2026-11-30T10:00") is None
    assert clock_problem("2026-11-30T10:00+08:00") is None

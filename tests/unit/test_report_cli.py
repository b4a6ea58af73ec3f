"""`report` and `analytics` as a new user meets them: the days they accept, and
what each output format puts on stdout and stderr. The commands are run
through ``main`` with PostgreSQL "down" (a closed port), so a refusal that
comes before the database is seen to: rc 2, one ``error:`` line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date

import pytest

from agi_app.core.analytics import reports
from agi_app.entry.cli import analytics, main, report
from agi_app.entry.cli.analytics import flow_models
from agi_app.service.report import daily_figures
from agi_app.settings import PROJECT_ROOT, get_settings


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AGI_APP_PG_PORT", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def days(first: str, last: str) -> tuple[str, ...]:
    return ("--from", first, "--to", last)


REPORTS = ("report", "analytics funnel", "analytics paths", "analytics repeats",
           "analytics staffing", "analytics risk")  # fmt: skip


@pytest.mark.parametrize("command", [*REPORTS, "report --variants"])
@pytest.mark.parametrize(
    ("period", "message"),
    [
        (days("9999-12-31", "9999-12-31"), "--to 9999-12-31 is outside the years 2000-2199"),
        (days("2199-12-31", "2200-01-01"), "--to 2200-01-01 is outside the years 2000-2199"),
        (days("1999-12-31", "2000-01-01"), "--from 1999-12-31 is outside the years 2000-2199"),
        (days("0001-01-01", "2026-12-01"), "--from 0001-01-01 is outside the years 2000-2199"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_a_day_outside_the_years_is_one_error_line(
    command: str,
    period: tuple[str, ...],
    message: str,
    database_down: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: a traceback (year 10000 is out of range) once the database answered.
    assert main([*command.split(), *period]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: {message}\n"


@pytest.mark.parametrize(
    ("start", "days_", "message"),
    [
        ("9999-12-31", "1", "--start 9999-12-31 is outside the years 2000-2199"),
        ("2199-12-31", "2", "the last day 2200-01-01 is outside the years 2000-2199"),
        ("2026-12-01", "999999999", "--days 999999999 goes past the year 2199"),
    ],
)
def test_generate_stays_in_the_years(
    start: str, days_: str, message: str, database_down: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analytics", "generate", "--start", start, "--days", days_]) == 2
    assert capsys.readouterr() == ("", f"error: {message}\n")


def test_the_last_days_allowed_are_reported() -> None:
    (only,) = daily_figures([], [], date(2199, 12, 31), date(2199, 12, 31))
    assert (only.day, only.calls) == (date(2199, 12, 31), 0)
    # The day after 9999-12-31 does not exist: counted, not stepped into.
    (last,) = daily_figures([], [], date.max, date.max)
    assert last.day == date.max


FIGS = daily_figures([], [], date(2026, 12, 1), date(2026, 12, 2))
STAFFING = reports.Report("staffing", [{"queue": "q", "slot": "10:00", "agents": 3}], {"days": 2})


def test_report_and_analytics_name_the_zone_of_their_days() -> None:
    # Days are counted in the hotline's zone: said where the days are shown.
    tz = "Asia/Shanghai"
    assert report.render(FIGS, "table", tz).splitlines()[0] == "days in Asia/Shanghai"
    assert json.loads(report.render(FIGS, "json", tz))["timezone"] == tz
    assert report.render_variants([], "table", tz).endswith("(days in Asia/Shanghai)")
    assert json.loads(report.render_variants([], "json", tz))["timezone"] == tz
    assert analytics.render(STAFFING, "table", tz).splitlines()[0] == "days in Asia/Shanghai"
    assert json.loads(analytics.render(STAFFING, "json", tz))["timezone"] == tz
    empty = reports.Report("funnel", [], {})
    assert analytics.render(empty, "table", tz).startswith("no calls in the period (days in Asia")


def csv_rows(text: str) -> list[list[str]]:
    """``text`` read as CSV, every row as wide as the header, no blank line."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows and all(len(r) == len(rows[0]) for r in rows), rows
    return rows


def test_report_csv_is_csv_and_its_summary_goes_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: a last line "# fluctuation_coefficient,1.0" in the CSV.
    tz = "Asia/Shanghai"
    report.show(report.render(FIGS, "csv", tz), "csv", report.summary(FIGS, tz))
    out, err = capsys.readouterr()
    rows = csv_rows(out)
    assert rows[0][:2] == ["day", "calls"] and [r[0] for r in rows[1:]] == [
        "2026-12-01",
        "2026-12-02",
    ]
    assert json.loads(err) == {"timezone": tz, "fluctuation_coefficient": 0.0}
    report.show(report.render_variants([], "csv", tz), "csv", {"timezone": tz})
    out, err = capsys.readouterr()
    assert csv_rows(out) == [["variant"]] and json.loads(err) == {"timezone": tz}


def test_analytics_csv_is_csv_and_its_summary_goes_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: a last line "# {...}" (the summary) in the CSV.
    analytics.show(STAFFING, "csv", "Asia/Shanghai")
    out, err = capsys.readouterr()
    assert csv_rows(out) == [["queue", "slot", "agents"], ["q", "10:00", "3"]]
    assert json.loads(err) == {"report": "staffing", "timezone": "Asia/Shanghai", "days": 2}
    analytics.show(STAFFING, "table", "Asia/Shanghai")
    out, err = capsys.readouterr()
    assert out.endswith('{"days": 2}\n') and err == ""  # the table keeps its summary


@pytest.mark.parametrize("name", ["funnel", "paths", "repeats", "staffing"])
def test_an_unknown_flow_is_an_error_not_an_empty_period(
    name: str, database_down: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: "no calls in the period", exit 0, for a flow no file defines.
    known = ", ".join(sorted(flow_models(PROJECT_ROOT / "flows")))
    assert "mobile_10086" in known
    assert main(["analytics", name, *days("2026-12-01", "2026-12-07"), "--flow", "nope"]) == 2
    assert capsys.readouterr() == ("", f"error: unknown flow 'nope' (known: {known})\n")
    # A known flow goes on to the database (down here).
    argv = ["analytics", name, *days("2026-12-01", "2026-12-07"), "--flow", "mobile_10086"]
    assert main(argv) == 1
    assert capsys.readouterr().err.startswith("error: the database is not reachable")

"""The days a report may ask for (pure).

Reports count days in the hotline's zone and look a day past the last one;
near year 9999 that leaves datetime's range. The years allowed are the
business clock's (FIRST_YEAR..LAST_YEAR), so any day the hotline can act in
can be reported on.
"""

from __future__ import annotations

from datetime import date

from agi_app.core.clock import FIRST_YEAR, LAST_YEAR


def check_day(day: date, name: str = "date") -> None:
    """ValueError, its message for the user, unless ``day`` is in FIRST_YEAR..LAST_YEAR."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"{name} {day.isoformat()} is outside the years {FIRST_YEAR}-{LAST_YEAR}")


def period_problem(
    first: date, last: date, names: tuple[str, str] = ("--from", "--to")
) -> str | None:
    """Why the days ``first`` to ``last`` (asked for as ``names``) cannot be
    reported on, or None."""
    try:  # the last day first: a default first day is counted back from it
        check_day(last, names[1])
        check_day(first, names[0])
    except ValueError as exc:
        return str(exc)
    return None

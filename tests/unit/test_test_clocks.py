"""The e2e tests' business clocks hold on every calendar day (no time bombs)."""

from __future__ import annotations

import datetime as dt

from tests.conftest import (
    HOTLINE_TZ,
    calendar_sheds,
    month_end_business_time,
    quiet_business_time,
)


def _every_day_2026_2028() -> list[dt.datetime]:
    start = dt.datetime(2026, 1, 1, 23, 30, tzinfo=HOTLINE_TZ)
    return [start + dt.timedelta(days=n) for n in range(3 * 366)]


def test_quiet_clock_is_real_time_or_a_later_quiet_day() -> None:
    for now in _every_day_2026_2028():
        when = quiet_business_time(now)
        if when is None:
            assert not calendar_sheds(now)
            assert not calendar_sheds(now + dt.timedelta(hours=1))
        else:
            assert when > now and not calendar_sheds(when)
            assert when - now < dt.timedelta(days=8)  # month end + month start: 6 days


def test_month_end_clock_is_a_later_next_to_last_day() -> None:
    for now in _every_day_2026_2028():
        when = month_end_business_time(now)
        assert when > now
        assert (when + dt.timedelta(days=2)).day == 1
        assert calendar_sheds(when)

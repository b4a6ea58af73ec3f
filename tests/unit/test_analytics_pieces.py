"""How the days of a period are shared among the connections (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agi_app.service.analytics.queries import _pieces

T0 = datetime(2026, 10, 1, tzinfo=UTC)
H = timedelta(hours=1)


def days(*indexes: int) -> list[tuple[int, datetime, datetime]]:
    return [(i, T0 + 24 * H * i, T0 + 24 * H * (i + 1)) for i in indexes]


def test_a_day_each_or_cut_when_days_are_fewer_than_connections() -> None:
    assert _pieces(days(0, 1, 2), 2, span=False) == days(0, 1, 2)
    assert _pieces(days(4), 2, span=False) == [(4, T0 + 96 * H, T0 + 108 * H),
                                               (4, T0 + 108 * H, T0 + 120 * H)]  # fmt: skip
    assert _pieces([], 2, span=False) == []


@pytest.mark.parametrize(
    ("todo", "conns", "runs"),
    [
        ((0, 1, 2, 3), 2, [(0, 0, 2), (2, 2, 4)]),  # halves, one per connection
        ((0, 1, 2, 3, 4), 2, [(0, 0, 2), (2, 2, 5)]),
        ((0, 1, 5, 6), 2, [(0, 0, 2), (5, 5, 7)]),  # kept days split the runs
        ((0, 2, 4), 2, [(0, 0, 1), (2, 2, 3), (4, 4, 5)]),
        ((3,), 2, [(3, 3, 4)]),  # one day: one query
        ((0, 1, 2, 3), 1, [(0, 0, 4)]),
    ],
)
def test_spanning_reports_take_runs_of_days(
    todo: tuple[int, ...], conns: int, runs: list[tuple[int, int, int]]
) -> None:
    """(first day's index, from day, to day) of each run."""
    got = _pieces(days(*todo), conns, span=True)
    assert got == [(i, T0 + 24 * H * a, T0 + 24 * H * b) for i, a, b in runs]

"""What every analytics report is made of: a table and its summary, rounding,
shares and percentiles of values counted in groups (pure functions)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any


@dataclass
class Report:
    """A table (rows of equal keys) and the figures about the whole of it."""

    title: str
    rows: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)


def _r(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(float(x), digits)


def _share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def percentile(counts: list[tuple[float, int]], q: float) -> float | None:
    """The ``q`` quantile (0..1) of values given as (value, how many), by linear
    interpolation between order statistics, as PostgreSQL's percentile_cont."""
    merged: dict[float, int] = {}
    for v, n in counts:  # the days of a period repeat values: sort each once
        if n > 0:
            merged[v] = merged.get(v, 0) + n
    if not merged:
        return None
    values = sorted(merged)
    seen = list(accumulate(merged[v] for v in values))  # values at ranks below seen[i]
    pos = q * (seen[-1] - 1)  # 0-based rank of the quantile
    rank = int(pos)
    lo = values[bisect_right(seen, rank)]
    hi = values[bisect_right(seen, min(rank + 1, seen[-1] - 1))]
    return lo + (pos - rank) * (hi - lo)

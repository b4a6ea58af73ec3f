"""What every analytics report is made of: a table and its summary, rounding,
shares and percentiles of values counted in groups (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    pairs = sorted((v, n) for v, n in counts if n > 0)
    total = sum(n for _, n in pairs)
    if not total:
        return None
    pos = q * (total - 1)  # 0-based rank of the quantile
    rank = int(pos)

    def value_at(r: int) -> float:
        seen = 0
        for v, n in pairs:
            seen += n
            if r < seen:
                return v
        return pairs[-1][0]

    lo, hi = value_at(rank), value_at(min(rank + 1, total - 1))
    return lo + (pos - rank) * (hi - lo)

"""Daily operating figures from the call journeys.

Definitions (days are in the hotline's time zone):
  calls               calls that started that day (refused ones excluded)
  self-service share  calls that ended without reaching an agent / calls
  transfer share      calls that reached an agent (outcome transferred) / calls
  shed by level       calls per shedding level 1..4
  callbacks           requested that day / connected that day
  abandoned in queue  calls that joined a queue and never reached an agent
                      (queue_status ABANDON, TIMEOUT, LEAVEEMPTY, or outcome
                      abandoned with a queue set)
  fluctuation         largest daily volume / mean daily volume over the period
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

ABANDON_STATUSES = {"ABANDON", "TIMEOUT", "LEAVEEMPTY"}


@dataclass(frozen=True)
class CallRow:
    day: date
    outcome: str
    shedding_level: int
    queue: str | None
    queue_status: str | None


@dataclass
class DailyFigures:
    day: date
    calls: int = 0
    self_service: int = 0
    transferred: int = 0
    shed: dict[int, int] = field(default_factory=lambda: {1: 0, 2: 0, 3: 0, 4: 0})
    abandoned_in_queue: int = 0
    callbacks_requested: int = 0
    callbacks_made: int = 0

    @property
    def self_service_share(self) -> float:
        return self.self_service / self.calls if self.calls else 0.0

    @property
    def transfer_share(self) -> float:
        return self.transferred / self.calls if self.calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "calls": self.calls,
            "self_service_share": round(self.self_service_share, 4),
            "transfer_share": round(self.transfer_share, 4),
            **{f"shed_level_{k}": v for k, v in self.shed.items()},
            "abandoned_in_queue": self.abandoned_in_queue,
            "callbacks_requested": self.callbacks_requested,
            "callbacks_made": self.callbacks_made,
        }


def daily_figures(
    rows: list[CallRow], callbacks: list[tuple[date, bool]], first: date, last: date
) -> list[DailyFigures]:
    """Per-day figures for every day from ``first`` to ``last`` (pure)."""
    # Counted, not stepped past ``last``: the day after 9999-12-31 does not exist.
    span = (first + timedelta(days=k) for k in range((last - first).days + 1))
    days = {d: DailyFigures(d) for d in span}
    for r in rows:
        fig = days.get(r.day)
        if fig is None or r.outcome == "refused":
            continue
        fig.calls += 1
        if r.outcome == "transferred":
            fig.transferred += 1
        else:
            fig.self_service += 1
        if r.shedding_level in fig.shed:
            fig.shed[r.shedding_level] += 1
        if (
            r.queue
            and r.outcome != "transferred"
            and (r.queue_status in ABANDON_STATUSES or r.outcome == "abandoned")
        ):
            fig.abandoned_in_queue += 1
    for day, made in callbacks:
        if day in days:
            days[day].callbacks_requested += 1
            days[day].callbacks_made += int(made)
    return list(days.values())


def fluctuation(figures: list[DailyFigures]) -> float:
    """Largest daily volume / mean daily volume (0 when there were no calls)."""
    volumes = [f.calls for f in figures]
    mean = sum(volumes) / len(volumes) if volumes else 0
    return round(max(volumes) / mean, 3) if mean else 0.0


CALLS_SQL = """
SELECT (started_at AT TIME ZONE $3)::date AS day, coalesce(outcome, 'abandoned') AS outcome,
       shedding_level, queue, queue_status
FROM calls WHERE started_at >= ($1::date::timestamp AT TIME ZONE $3)
  AND started_at < (($2::date + 1)::timestamp AT TIME ZONE $3)
  AND ($4::text IS NULL OR node = $4)
"""
CALLBACKS_SQL = """
SELECT (requested_at AT TIME ZONE $3)::date AS day, state IN ('connected', 'done') AS made
FROM callbacks WHERE requested_at >= ($1::date::timestamp AT TIME ZONE $3)
  AND requested_at < (($2::date + 1)::timestamp AT TIME ZONE $3)
"""


async def fetch_report(
    conn: Any, first: date, last: date, tz: str, node: str | None = None
) -> list[DailyFigures]:
    """The figures of each day; with ``node``, of the calls that node served
    (callbacks are the hotline's: they are not tied to a node)."""
    rows = [
        CallRow(r["day"], r["outcome"], r["shedding_level"], r["queue"], r["queue_status"])
        for r in await conn.fetch(CALLS_SQL, first, last, tz, node)
    ]
    cbs = [(r["day"], r["made"]) for r in await conn.fetch(CALLBACKS_SQL, first, last, tz)]
    return daily_figures(rows, cbs, first, last)

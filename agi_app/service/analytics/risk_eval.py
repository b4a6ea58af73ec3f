"""How well the complaint-risk score would have predicted, over a period.

For each caller with a call in the period (up to ``sample`` callers), the
score is computed as it would have been at the start of their first call
there: the same signals (the same query as at call start) over the 7 days
before it, the CRM tags of today. A caller is a *positive* when, from that
call on and within 7 days, they asked for an agent (a call that joined a
queue) or the CRM tags them ``complaint_risk``. Precision and recall follow
for a range of thresholds, the configured one marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agi_app.core.risk import RiskConfig, score
from agi_app.service.risk_signals import HISTORY_SQL, history_from_row

FIRST_CALLS_SQL = """
SELECT DISTINCT ON (caller_e164) caller_e164, started_at
FROM calls
WHERE started_at >= $1 AND started_at < $2 AND caller_e164 IS NOT NULL
ORDER BY caller_e164, started_at
LIMIT $3
"""
LATER_AGENT_SQL = """
SELECT EXISTS (
    SELECT 1 FROM calls WHERE caller_e164 = $1 AND started_at >= $2
      AND started_at < $2 + interval '7 days' AND queue IS NOT NULL
)
"""
TAGS_SQL = "SELECT number, tags FROM customers WHERE number = ANY($1::text[])"


@dataclass(frozen=True)
class Scored:
    caller: str
    score: float
    positive: bool


async def scored_callers(
    conn: Any, start: datetime, end: datetime, cfg: RiskConfig, sample: int
) -> list[Scored]:
    """Each sampled caller's score at their first call of the period, and the truth."""
    async with conn.transaction():
        # Two queries a caller over the day-partitioned journeys: planned once, the
        # partitions pruned as each runs (custom plans re-plan every partition
        # each time: 5,000 callers took 9 s instead of 3).
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        return await _scored(conn, start, end, cfg, sample)


async def _scored(
    conn: Any, start: datetime, end: datetime, cfg: RiskConfig, sample: int
) -> list[Scored]:
    firsts = await conn.fetch(FIRST_CALLS_SQL, start, end, sample)
    numbers = [r["caller_e164"] for r in firsts]
    tags = {r["number"]: frozenset(r["tags"] or ()) for r in await conn.fetch(TAGS_SQL, numbers)}
    out = []
    for r in firsts:
        number, at = r["caller_e164"], r["started_at"]
        history = history_from_row(await conn.fetchrow(HISTORY_SQL, number, at))
        caller_tags = tags.get(number, frozenset())
        later_agent = bool(await conn.fetchval(LATER_AGENT_SQL, number, at))
        positive = later_agent or "complaint_risk" in caller_tags
        out.append(Scored(number, score(history, caller_tags, cfg).score, positive))
    return out


def precision_recall(scored: list[Scored], thresholds: list[float]) -> list[dict[str, Any]]:
    """One row per threshold: the confusion counts, precision and recall."""
    rows = []
    for t in sorted(set(thresholds)):
        tp = sum(1 for s in scored if s.score >= t and s.positive)
        fp = sum(1 for s in scored if s.score >= t and not s.positive)
        fn = sum(1 for s in scored if s.score < t and s.positive)
        tn = len(scored) - tp - fp - fn
        rows.append(
            {
                "threshold": t,
                "flagged": tp + fp,
                "true_pos": tp,
                "false_pos": fp,
                "false_neg": fn,
                "true_neg": tn,
                "precision": round(tp / (tp + fp), 4) if tp + fp else None,
                "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            }
        )
    return rows

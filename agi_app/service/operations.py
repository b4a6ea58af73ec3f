"""Figures for the operations console: today against the same weekday last
week per 15 minutes, traffic on each node of a flow, and the A/B variants
compared. The connection is handed in; every query takes parameters.

Definitions are the report's (service.report): a call that did not reach an
agent is self-service; time in IVR is from the start to the first transfer
step, or to the end for a call that never transferred.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

SLOTS = 96  # quarter hours in a day

SLOTS_SQL = """
SELECT (started_at AT TIME ZONE $3)::date AS day,
       (extract(hour FROM started_at AT TIME ZONE $3) * 4
        + floor(extract(minute FROM started_at AT TIME ZONE $3) / 15))::int AS slot,
       count(*) AS n
FROM calls
WHERE coalesce(outcome, '') <> 'refused'
  AND ((started_at >= ($1::date::timestamp AT TIME ZONE $3)
        AND started_at < (($1::date + 1)::timestamp AT TIME ZONE $3))
    OR (started_at >= ($2::date::timestamp AT TIME ZONE $3)
        AND started_at < (($2::date + 1)::timestamp AT TIME ZONE $3)))
GROUP BY 1, 2
"""

# One pass over the period's steps: each step knows whether it is its call's last
# (``from_end``), so the hang-ups per node are counted in the same grouping. (A
# hang-up count as a subquery per node re-read every step once per node: over
# two minutes for 530,000 calls of a week, against 4 s.)
NODE_TRAFFIC_SQL = """
WITH c AS (
  SELECT id, started_at, outcome FROM calls
  WHERE flow = $1 AND started_at >= ($2::date::timestamp AT TIME ZONE $4)
    AND started_at < (($3::date + 1)::timestamp AT TIME ZONE $4)
), s AS (  -- the steps of the period's partitions (a step carries its call's start)
  SELECT s.node, s.node_type, c.outcome,
         row_number() OVER (PARTITION BY s.call_id ORDER BY s.seq DESC) AS from_end
  FROM call_steps s JOIN c ON c.id = s.call_id AND c.started_at = s.started_at
  WHERE s.started_at >= ($2::date::timestamp AT TIME ZONE $4)
    AND s.started_at < (($3::date + 1)::timestamp AT TIME ZONE $4)
)
SELECT node,
       count(*) AS visits,
       count(*) FILTER (WHERE node_type = 'transfer') AS agent_requests,
       count(*) FILTER (WHERE from_end = 1 AND outcome = 'abandoned') AS hangups
FROM s
GROUP BY node
"""

VARIANTS_SQL = """
SELECT c.ab_variant AS variant,
       count(*) AS calls,
       count(*) FILTER (WHERE coalesce(c.outcome, 'abandoned') <> 'transferred') AS self_service,
       count(*) FILTER (WHERE c.outcome = 'transferred') AS transferred,
       count(c.ended_at) AS timed,
       avg(extract(epoch FROM coalesce(
             (SELECT min(s.at) FROM call_steps s
               WHERE s.call_id = c.id AND s.started_at = c.started_at
                 AND s.started_at >= ($1::date::timestamp AT TIME ZONE $3)
                 AND s.started_at < (($2::date + 1)::timestamp AT TIME ZONE $3)
                 AND s.node_type = 'transfer'),
             c.ended_at) - c.started_at)) AS ivr_s
FROM calls c
WHERE c.ab_variant IS NOT NULL AND coalesce(c.outcome, '') <> 'refused'
  AND c.started_at >= ($1::date::timestamp AT TIME ZONE $3)
  AND c.started_at < (($2::date + 1)::timestamp AT TIME ZONE $3)
GROUP BY c.ab_variant ORDER BY c.ab_variant
"""


async def quarter_hours(conn: Any, today: date, tz: str) -> dict[str, list[int]]:
    """Calls per 15 minutes today and on the same weekday a week before."""
    week_ago = today - timedelta(days=7)
    out = {"today": [0] * SLOTS, "last_week": [0] * SLOTS}
    for r in await conn.fetch(SLOTS_SQL, today, week_ago, tz):
        key = "today" if r["day"] == today else "last_week"
        if 0 <= r["slot"] < SLOTS:
            out[key][r["slot"]] = int(r["n"])
    return out


async def node_traffic(
    conn: Any, flow: str, first: date, last: date, tz: str
) -> dict[str, dict[str, int]]:
    """Per node of ``flow``: visits, hang-ups there, requests for an agent there."""
    rows = await conn.fetch(NODE_TRAFFIC_SQL, flow, first, last, tz)
    return {
        r["node"]: {
            "visits": int(r["visits"]),
            "hangups": int(r["hangups"]),
            "agent_requests": int(r["agent_requests"]),
        }
        for r in rows
    }


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


async def variants(conn: Any, first: date, last: date, tz: str) -> list[dict[str, Any]]:
    """The A/B variants side by side, each figure with the count behind it."""
    out = []
    for r in await conn.fetch(VARIANTS_SQL, first, last, tz):
        calls = int(r["calls"])
        out.append(
            {
                "variant": r["variant"],
                "calls": calls,
                "self_service": int(r["self_service"]),
                "self_service_share": _share(int(r["self_service"]), calls),
                "transferred": int(r["transferred"]),
                "transfer_share": _share(int(r["transferred"]), calls),
                "avg_ivr_s": round(float(r["ivr_s"]), 1) if r["ivr_s"] is not None else None,
                "timed_calls": int(r["timed"]),
            }
        )
    return out

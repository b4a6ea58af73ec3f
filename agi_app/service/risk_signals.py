"""The complaint-risk signals of one caller at one moment, as one query on the
``calls_caller_e164`` index (and the last call's steps): the same query at call
start (adapters.postgres.risk) and when the score is evaluated afterwards
(service.analytics.risk_eval)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from agi_app.core.risk import CallerHistory

# The signals count within the caller's last 50 calls of the week, so a number
# that calls thousands of times a week (a robot, a test line) costs each lookup
# 50 rows, not thousands. The capped counts (config/risk.yaml) are all below 50
# and come out exact; the uncapped ones (agent_during_shedding,
# abandoned_in_queue) can undercount for such a caller, whose calls_7d alone
# (50, capped at 10) already reaches the default threshold.
HISTORY_CALLS = 50
HISTORY_SQL = f"""
WITH recent AS (
    SELECT id, started_at, outcome, queue, queue_status, agent, shedding_level
    FROM calls
    WHERE caller_e164 = $1 AND started_at >= $2::timestamptz - interval '7 days'
      AND started_at < $2::timestamptz
    ORDER BY started_at DESC LIMIT {HISTORY_CALLS}  -- bounded work for any caller
), last_call AS (
    SELECT id, started_at FROM recent ORDER BY started_at DESC LIMIT 1
), last_steps AS (  -- by the steps' key: the week's partitions planned, one read
    SELECT detail FROM call_steps WHERE call_id = (SELECT id FROM last_call)
      AND started_at = (SELECT started_at FROM last_call)
      AND started_at >= $2::timestamptz - interval '7 days' AND started_at < $2::timestamptz
)
SELECT
    count(*) FILTER (WHERE started_at >= $2::timestamptz - interval '24 hours') AS calls_24h,
    count(*) AS calls_7d,
    count(*) FILTER (WHERE queue IS NOT NULL AND shedding_level > 0) AS agent_during_shedding,
    count(*) FILTER (
        WHERE queue IS NOT NULL AND agent IS NULL AND coalesce(outcome, '') <> 'transferred'
          AND (outcome = 'abandoned' OR queue_status IN ('ABANDON', 'TIMEOUT', 'LEAVEEMPTY'))
    ) AS abandoned_in_queue,
    (SELECT coalesce(sum((detail->>'invalid')::int), 0) FROM last_steps
      WHERE detail ? 'invalid') AS invalid_last,
    (SELECT coalesce(sum((detail->>'timeouts')::int), 0) FROM last_steps
      WHERE detail ? 'timeouts') AS timeouts_last,
    (SELECT count(*) FROM callbacks WHERE number = $1 AND state = 'failed'
      AND requested_at >= $2::timestamptz - interval '7 days') AS callback_failed
FROM recent
"""


_SIGNAL_COLUMNS = tuple(f.name for f in fields(CallerHistory))


def history_from_row(row: Any) -> CallerHistory:
    """The signals of a row that has their columns (and maybe others)."""
    return CallerHistory(**{k: int(row[k] or 0) for k in _SIGNAL_COLUMNS})

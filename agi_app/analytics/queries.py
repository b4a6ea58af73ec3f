"""The analytics aggregations, in SQL over ``calls`` and ``call_steps``.

Every query takes the period as [start, end) timestamps and an optional flow,
selects the calls by ``calls_started_at`` (refused calls left out) and reaches
their steps through the ``call_steps`` primary key (call_id, seq).

Definitions
  dwell         the journey stamps a play, transfer, hangup or logic node when
                it is entered and a menu, input, transaction or queue result
                when the caller leaves it. The time between two stamps belongs
                to the later node if that one is stamped on leaving, else to
                the earlier one; the time after the last stamp to the call's
                end belongs to the last node. So the dwell times of a call add
                up to its length, and a play's audio counts toward the menu
                that follows it. A transfer and its queue result are one
                visit (announcement, queue wait and the agent's call).
  last node     (repeats) what the caller got last: the call's last step that is not
                a menu, input, hangup or logic node; failing that its last menu.
  hung up       the call's last visit, when the outcome is ``abandoned``.
  asked agent   a menu or input answered validly (not failed) whose next
                interactive step is a transfer to a queue.
  invalid       menu: its ``invalid`` count; input: attempts that failed.
  first service the first successful transaction (a self-service result) or
                the transfer that an agent answered; the journeys do not stamp
                the moment the agent picks up, so it counts from joining the queue.
  handling time of an answered queue visit: queue result stamp - transfer stamp,
                which includes the queue wait.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

LEFT_STAMPED = "('menu', 'dynamic_menu', 'input', 'transaction', 'queue_result')"
INTERACTIVE = "('menu', 'dynamic_menu', 'input')"
PLUMBING = "('hangup', 'branch', 'set', 'goto', 'return', 'queue_result')"

CALLS = """
c AS (
  SELECT id, flow, started_at, ended_at, outcome, queue, queue_status FROM calls
  WHERE started_at >= $1 AND started_at < $2 AND ($3::text IS NULL OR flow = $3)
    AND coalesce(outcome, '') <> 'refused'
)"""

FUNNEL_SQL = f"""
WITH {CALLS},
s AS (
  SELECT c.flow, st.call_id, st.seq, st.node, st.node_type, c.outcome,
         coalesce((st.detail->>'invalid')::int, 0) AS invalid,
         coalesce((st.detail->>'timeouts')::int, 0) AS timeouts,
         coalesce((st.detail->>'attempts')::int, 1) AS attempts,
         st.detail->>'result' = 'failed' AS failed, st.detail->>'ok' = 'true' AS ok,
         extract(epoch FROM st.at - coalesce(lag(st.at) OVER w, c.started_at)) AS before_s,
         extract(epoch FROM coalesce(lead(st.at) OVER w, c.ended_at, st.at) - st.at) AS after_s,
         lead(st.node_type) OVER w AS next_type,
         max(st.seq) FILTER (WHERE st.node_type IN {INTERACTIVE}) OVER (
           PARTITION BY st.call_id ORDER BY st.seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
         ) AS asked_at_seq
  FROM c JOIN call_steps st ON st.call_id = c.id
  WINDOW w AS (PARTITION BY st.call_id ORDER BY st.seq)
),
d AS (
  SELECT *, CASE WHEN node_type IN {LEFT_STAMPED} THEN before_s ELSE 0 END
          + CASE WHEN next_type IS NULL OR next_type NOT IN {LEFT_STAMPED} THEN after_s ELSE 0 END
          AS dwell
  FROM s
),
v AS (
  SELECT *, dwell + CASE WHEN lead(node_type) OVER w = 'queue_result' THEN lead(dwell) OVER w
                         ELSE 0 END AS visit_s,
         next_type IS NULL OR (next_type = 'queue_result' AND lead(next_type) OVER w IS NULL)
           AS last_visit
  FROM d WINDOW w AS (PARTITION BY call_id ORDER BY seq)
),
asked AS (
  SELECT DISTINCT call_id, asked_at_seq AS seq FROM v WHERE node_type = 'transfer'
)
SELECT v.flow, v.node, min(v.node_type) AS node_type, count(*) AS visits,
       count(DISTINCT v.call_id) AS callers,
       count(*) FILTER (WHERE v.last_visit AND v.outcome = 'abandoned') AS hung_up,
       count(a.call_id) FILTER (WHERE NOT coalesce(v.failed, false)) AS asked_agent,
       sum(CASE WHEN v.node_type = 'input'
                THEN v.attempts - CASE WHEN coalesce(v.failed, false) THEN 0 ELSE 1 END
                ELSE v.invalid END) AS invalid,
       sum(v.timeouts) AS timeouts,
       count(*) FILTER (WHERE v.failed) AS failed,
       count(DISTINCT v.call_id) FILTER (WHERE v.node_type = 'transaction' AND v.ok)
         AS served_callers,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY v.visit_s) AS median_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY v.visit_s) AS p90_s
FROM v LEFT JOIN asked a ON a.call_id = v.call_id AND a.seq = v.seq
WHERE v.node_type <> 'queue_result'
GROUP BY v.flow, v.node
ORDER BY v.flow, min(v.seq), v.node
"""

COUNT_SQL = f"WITH {CALLS} SELECT flow, count(*) AS calls FROM c GROUP BY flow ORDER BY flow"

PATHS_SQL = f"""
WITH {CALLS},
p AS (
  SELECT c.id, c.flow, c.started_at,
         string_agg(st.node, ' > ' ORDER BY st.seq)
           FILTER (WHERE st.node_type <> 'queue_result') AS path,
         min(st.at) FILTER (WHERE st.node_type = 'transaction' AND st.detail->>'ok' = 'true')
           AS self_at,
         min(st.seq) FILTER (WHERE st.node_type = 'queue_result'
                               AND st.detail->>'status' = 'ANSWERED') AS agent_seq
  FROM c JOIN call_steps st ON st.call_id = c.id
  GROUP BY c.id, c.flow, c.started_at
),
f AS (
  SELECT p.flow, p.path,
         extract(epoch FROM least(p.self_at, t.at) - p.started_at) AS to_service_s
  FROM p LEFT JOIN call_steps t ON t.call_id = p.id AND t.seq = p.agent_seq - 1
)
SELECT flow, path, count(*) AS calls, count(to_service_s) AS served,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY to_service_s) AS median_to_service_s
FROM f GROUP BY GROUPING SETS ((flow, path), (flow))
ORDER BY path IS NOT NULL, count(*) DESC, path
"""

REPEATS_SQL = f"""
WITH c AS (
  SELECT id, caller_e164, flow, started_at,
         lead(started_at) OVER (PARTITION BY caller_e164 ORDER BY started_at) AS next_at
  FROM calls
  WHERE caller_e164 IS NOT NULL AND caller_e164 <> ''
    AND started_at >= $1 AND started_at < $2::timestamptz + interval '7 days'
    AND coalesce(outcome, '') <> 'refused'
),
f AS (SELECT * FROM c WHERE started_at < $2::timestamptz AND ($3::text IS NULL OR flow = $3)),
l AS (
  SELECT f.id, f.flow, f.started_at, f.next_at,
         (array_agg(st.node ORDER BY (st.node_type NOT IN {PLUMBING} AND st.node_type NOT IN
                                        {INTERACTIVE}) DESC,
                                     (st.node_type NOT IN {PLUMBING}) DESC,
                                     st.seq DESC))[1] AS last_node
  FROM f JOIN call_steps st ON st.call_id = f.id
  GROUP BY f.id, f.flow, f.started_at, f.next_at
)
SELECT flow, last_node, count(*) AS calls,
       count(*) FILTER (WHERE next_at < started_at + interval '24 hours') AS again_24h,
       count(*) FILTER (WHERE next_at < started_at + interval '7 days') AS again_7d
FROM l GROUP BY GROUPING SETS ((flow), (flow, last_node))
ORDER BY flow, last_node IS NOT NULL, count(*) FILTER (WHERE next_at < started_at
         + interval '24 hours') DESC, last_node
"""

STAFFING_SQL = f"""
WITH {CALLS},
q AS (
  SELECT st.node_type, st.at, st.detail->>'queue' AS queue,
         lead(st.node_type) OVER w AS next_type, lead(st.detail->>'status') OVER w AS status,
         extract(epoch FROM lead(st.at) OVER w - st.at) AS handled_s
  FROM c JOIN call_steps st ON st.call_id = c.id
  WHERE st.node_type IN ('transfer', 'queue_result')
  WINDOW w AS (PARTITION BY st.call_id ORDER BY st.seq)
)
SELECT queue,
       (extract(hour FROM at AT TIME ZONE $4) * 2
        + floor(extract(minute FROM at AT TIME ZONE $4) / 30))::int AS slot,
       count(*) AS arrivals,
       count(*) FILTER (WHERE next_type = 'queue_result' AND status = 'ANSWERED') AS answered,
       coalesce(sum(handled_s) FILTER (WHERE next_type = 'queue_result' AND status = 'ANSWERED'),
                0) AS handled_s
FROM q WHERE node_type = 'transfer'
GROUP BY queue, slot ORDER BY queue, slot
"""

VOLUME_SQL = f"""
WITH {CALLS}
SELECT count(*) AS calls, count(*) FILTER (WHERE queue IS NOT NULL) AS asked_agent,
       count(*) FILTER (WHERE queue_status = 'ANSWERED' OR outcome = 'transferred') AS answered
FROM c
"""


async def _fetch(conn: Any, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with conn.transaction():
        # Sorts and hashes of a month of steps stay in memory.
        await conn.execute("SET LOCAL work_mem = '256MB'")
        return [dict(r) for r in await conn.fetch(sql, *args)]


async def funnel_rows(
    conn: Any, start: datetime, end: datetime, flow: str | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per (flow, node) figures, and the number of calls per flow."""
    rows = await _fetch(conn, FUNNEL_SQL, start, end, flow)
    counts = {r["flow"]: r["calls"] for r in await _fetch(conn, COUNT_SQL, start, end, flow)}
    return rows, counts


async def path_rows(
    conn: Any, start: datetime, end: datetime, flow: str | None
) -> list[dict[str, Any]]:
    """Per (flow, path) and per flow (path None): calls and median time to service."""
    return await _fetch(conn, PATHS_SQL, start, end, flow)


async def repeat_rows(
    conn: Any, start: datetime, end: datetime, flow: str | None
) -> list[dict[str, Any]]:
    """Per flow (last_node None) and per (flow, last node): calls and repeats."""
    return await _fetch(conn, REPEATS_SQL, start, end, flow)


async def staffing_rows(
    conn: Any, start: datetime, end: datetime, flow: str | None, tz: str
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per (queue, half-hour slot of the day): arrivals, answered, seconds handled;
    and the period's calls, agent requests and answered ones."""
    rows = await _fetch(conn, STAFFING_SQL, start, end, flow, tz)
    volume = (await _fetch(conn, VOLUME_SQL, start, end, flow))[0]
    return rows, volume

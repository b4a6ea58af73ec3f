"""The analytics aggregations, in SQL over ``calls`` and ``call_steps``.

The step queries (funnel, paths, staffing, and the calls and volume counts)
take one day, [$1, $2): the period's calls by ``calls_started_at`` (refused
calls left out) and their steps through the ``call_steps`` primary key, read
in key order and merge-joined, so the per-call window needs no sort. Repeats
takes several days at once ($3: the zone of their dates), since each call
looks 7 days ahead for the caller's next call and consecutive days share that
look-ahead.

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
  queue wait    of a queue result an agent answered: its ``wait_s``, joining the
                queue to the answer. Journeys written before the answer was
                recorded have none; they are counted apart.
  last node     (repeats) what the caller got last: the call's last step that is not
                a menu, input, hangup or logic node; failing that its last menu.
  hung up       the call's last visit, when the outcome is ``abandoned``; the
                step's digits and result (``last_hint``) let the report move it
                to the node the flow went on to when that one is stamped only
                on leaving (a caller who hangs up in a menu leaves no menu step).
  asked agent   a menu or input answered validly (not failed) followed by a
                transfer to a queue, with at most one logic node or play between
                (main > agent > to_support).
  invalid       menu: its ``invalid`` count; input: attempts that failed.
  first service the first successful transaction (a self-service result) or
                the moment an agent answered (``answered_at``); for a journey
                without it, the moment the caller joined that queue (estimated).
  handling time of an answered queue visit: its talk time (``talk_s``, answer to
                the end of the agent's call); for a journey without it, queue
                result - transfer, which includes the wait (estimated).
"""

from __future__ import annotations

# Node types as small numbers, so that the per-step tests compare integers:
# 11-15 are stamped when the caller leaves them (11-13 ask the caller), 1-5 are
# passed through on the way to a transfer (most frequent first: CASE tests in order).
KINDS = {
    "play": 1, "dynamic_menu": 12, "menu": 11, "branch": 2, "transaction": 14, "hangup": 6,
    "transfer": 7, "queue_result": 15, "input": 13, "set": 3, "goto": 4, "return": 5,
    "announcement": 8,
}  # fmt: skip
KIND = "CASE st.node_type " + " ".join(f"WHEN '{t}' THEN {k}" for t, k in KINDS.items())
KIND += " ELSE 0 END"
KIND_NAME = "CASE {k} " + " ".join(f"WHEN {k} THEN '{t}'" for t, k in KINDS.items()) + " END"

# The day's call ids: Asterisk unique ids ("<epoch>.<n>"), so one day's calls are
# neighbours in the key of calls and of call_steps. OFFSET 0 keeps the planner
# from finding min(id) by walking the primary key from its start.
IDS = "(SELECT {f}(id) FROM (SELECT id FROM calls WHERE started_at >= $1 AND started_at < $2 OFFSET 0) p)"  # noqa: E501
LO, HI = IDS.format(f="min"), IDS.format(f="max")
# The day's calls, and their steps: a step carries its call's start, the partition
# key of both tables (migrations/0009), so the bound on it keeps the scan to the
# day's partitions; within them a range of the call_steps key (only a bound: the
# join on calls keeps exactly the day's calls).
DAY_CALLS = f"""started_at >= $1 AND started_at < $2 AND coalesce(outcome, '') <> 'refused'
    AND id >= {LO} AND id <= {HI}"""
DAY_STEPS = f"""st.started_at >= $1 AND st.started_at < $2
    AND st.call_id >= {LO} AND st.call_id <= {HI}"""

FUNNEL_SQL = f"""
WITH w AS (  -- the window over the steps alone (narrow rows), then their calls
  SELECT st.call_id, st.seq, st.node, st.k, st.at, st.detail, st.digits,
         lag(st.at) OVER w AS prev_at, lead(st.at) OVER w AS next_at,
         lead(st.k) OVER w AS k1, lead(st.k, 2) OVER w AS k2
  FROM (
    SELECT st.call_id, st.seq, st.node, st.at, st.digits, {KIND} AS k,
           CASE WHEN st.node_type IN ('menu', 'dynamic_menu', 'input', 'transaction',
                                      'queue_result') THEN st.detail END AS detail
    FROM call_steps st WHERE {DAY_STEPS}
  ) st
  WINDOW w AS (PARTITION BY st.call_id ORDER BY st.seq)
),
s AS (
  SELECT c.flow, c.outcome = 'abandoned' AS gone, w.seq, w.node, w.k, w.detail, w.digits, w.k1,
         w.k2, w.at - coalesce(w.prev_at, c.started_at) AS before,
         coalesce(w.next_at, c.ended_at, w.at) - w.at AS after
  FROM w JOIN (SELECT * FROM calls WHERE {DAY_CALLS}) c ON c.id = w.call_id
),
v AS (
  SELECT flow, node, k, seq, detail,
         -- A transfer followed by its queue result: the result row carries the visit.
         CASE WHEN k = 7 AND k1 = 15 THEN NULL
              ELSE round(10 * date_part('epoch',
                     CASE WHEN k > 10 THEN before ELSE interval '0' END
                     + CASE WHEN k1 > 10 THEN interval '0' ELSE after END)) / 10 END AS dwell_s,
         gone AND k1 IS NULL AS hung_up,
         CASE WHEN gone AND k1 IS NULL
              THEN jsonb_build_object('digits', digits, 'case', detail->'case', 'ok', detail->'ok',
                                      'status', detail->'status', 'result', detail->'result')::text
         END AS last_hint,
         k BETWEEN 11 AND 13 AND detail->>'result' = 'failed' AS failed,
         k BETWEEN 11 AND 13 AND (k1 = 7 OR (k1 BETWEEN 1 AND 5 AND k2 = 7)) AS next_agent,
         k = 15 AND detail->>'status' = 'ANSWERED' AS answered,
         CASE WHEN k = 15 AND detail->>'status' = 'ANSWERED'
              THEN round(10 * (detail->>'wait_s')::float8) / 10 END AS wait_s
  FROM s
)
SELECT flow, node, dwell_s, last_hint, wait_s,
       {KIND_NAME.format(k="max(k) FILTER (WHERE k <> 15)")} AS node_type,
       count(*) FILTER (WHERE k <> 15) AS visits, count(dwell_s) AS samples, min(seq) AS first_seq,
       count(*) FILTER (WHERE hung_up) AS hung_up,
       count(*) FILTER (WHERE next_agent AND failed IS NOT TRUE) AS asked_agent,
       coalesce(sum(CASE WHEN k = 13 THEN coalesce((detail->>'attempts')::int, 1) - 1 + failed::int
                         WHEN k IN (11, 12) THEN coalesce((detail->>'invalid')::int, 0) END),
                0) AS invalid,
       coalesce(sum((detail->>'timeouts')::int) FILTER (WHERE k BETWEEN 11 AND 13), 0) AS timeouts,
       count(*) FILTER (WHERE failed) AS failed,
       count(*) FILTER (WHERE k = 14 AND detail->>'ok' = 'true') AS served,
       count(*) FILTER (WHERE answered) AS answered
FROM v
GROUP BY flow, node, dwell_s, last_hint, wait_s
"""

COUNT_SQL = f"SELECT flow, count(*) AS calls FROM calls WHERE {DAY_CALLS} GROUP BY flow"

ANSWERED = "st.node_type = 'queue_result' AND st.detail->>'status' = 'ANSWERED'"
PATHS_SQL = f"""
WITH c AS (SELECT id, flow, started_at FROM calls WHERE {DAY_CALLS}),
p AS (
  SELECT c.id, c.flow, c.started_at,
         string_agg(st.node, ' > ' ORDER BY st.seq)
           FILTER (WHERE st.node_type <> 'queue_result') AS path,
         min(st.at) FILTER (WHERE st.node_type = 'transaction' AND st.detail->>'ok' = 'true')
           AS self_at,
         min(st.seq) FILTER (WHERE {ANSWERED}) AS agent_seq,
         min((st.detail->>'answered_at')::timestamptz) FILTER (WHERE {ANSWERED}) AS answered_at,
         min(round(10 * (st.detail->>'wait_s')::float8) / 10) FILTER (WHERE {ANSWERED}) AS wait_s
  FROM c JOIN call_steps st ON st.call_id = c.id AND {DAY_STEPS}
  GROUP BY c.id, c.flow, c.started_at
),
f AS (  -- journeys without the answer moment: the transfer step before the result
  SELECT p.flow, p.path, p.wait_s, p.agent_seq IS NOT NULL AS answered,
         p.agent_seq IS NOT NULL AND p.answered_at IS NULL AS estimated,
         round(10 * date_part('epoch', least(p.self_at, coalesce(p.answered_at,
           CASE WHEN p.agent_seq IS NOT NULL THEN (SELECT t.at FROM call_steps t
                WHERE t.call_id = p.id AND t.seq = p.agent_seq - 1 AND t.started_at = p.started_at)
           END)) - p.started_at)) / 10
           AS to_service_s
  FROM p
)
SELECT flow, path, GROUPING(wait_s) = 0 AS wait_row, to_service_s, estimated, wait_s,
       count(*) AS calls, count(*) FILTER (WHERE answered) AS answered
FROM f GROUP BY GROUPING SETS ((flow, path, to_service_s, estimated), (flow, path, wait_s))
"""

REPEATS_SQL = f"""
WITH n AS (
  SELECT id, flow, started_at, (started_at AT TIME ZONE $3)::date AS day,
         lead(started_at) OVER (PARTITION BY caller_e164 COLLATE "C" ORDER BY started_at) AS next_at
  FROM calls
  WHERE started_at >= $1 AND started_at < $2::timestamptz + interval '7 days'
    AND coalesce(outcome, '') <> 'refused' AND caller_e164 <> ''
),
l AS (  -- per call, straight off the call_steps key: the step ranked last (see above)
  SELECT st.call_id,
         max(CASE WHEN st.node_type IN ('hangup', 'branch', 'set', 'goto', 'return', 'queue_result')
                  THEN '0' WHEN st.node_type IN ('menu', 'dynamic_menu', 'input') THEN '1' ELSE '2'
             END || to_char(st.seq, 'FM000000') || st.node COLLATE "C") AS last
  FROM call_steps st WHERE {DAY_STEPS}
  GROUP BY st.call_id
)
SELECT n.day, n.flow, substr(l.last, 8) AS last_node, count(*) AS calls,
       count(*) FILTER (WHERE n.next_at < n.started_at + interval '24 hours') AS again_24h,
       count(*) FILTER (WHERE n.next_at < n.started_at + interval '7 days') AS again_7d
FROM n JOIN l ON l.call_id = n.id
WHERE n.started_at < $2
GROUP BY 1, 2, 3
"""

STAFFING_SQL = f"""
WITH c AS (SELECT id, flow FROM calls WHERE {DAY_CALLS}),
q AS (
  SELECT c.flow, st.node_type, st.at, st.detail->>'queue' AS queue,
         lead(st.node_type) OVER w = 'queue_result'
           AND lead(st.detail->>'status') OVER w = 'ANSWERED' AS answered,
         (lead(st.detail->>'talk_s') OVER w)::float8 AS talk_s,
         (lead(st.detail->>'wait_s') OVER w)::float8 AS wait_s,
         date_part('epoch', lead(st.at) OVER w - st.at) AS handled_s
  FROM c JOIN call_steps st ON st.call_id = c.id AND {DAY_STEPS}
  WHERE st.node_type IN ('transfer', 'queue_result')
  WINDOW w AS (PARTITION BY st.call_id ORDER BY st.seq)
)
SELECT flow, queue,
       (extract(hour FROM at AT TIME ZONE $3) * 2
        + floor(extract(minute FROM at AT TIME ZONE $3) / 30))::int AS slot,
       count(*) AS arrivals,
       count(*) FILTER (WHERE answered) AS answered,
       count(*) FILTER (WHERE answered AND talk_s IS NOT NULL) AS timed,
       coalesce(sum(talk_s) FILTER (WHERE answered), 0) AS talk_s,
       coalesce(sum(wait_s) FILTER (WHERE answered AND talk_s IS NOT NULL), 0) AS wait_s,
       coalesce(sum(handled_s) FILTER (WHERE answered AND talk_s IS NULL), 0) AS estimated_s
FROM q WHERE node_type = 'transfer'
GROUP BY flow, queue, slot
"""

VOLUME_SQL = f"""
SELECT flow, count(*) AS calls, count(*) FILTER (WHERE queue IS NOT NULL) AS asked_agent,
       count(*) FILTER (WHERE queue_status = 'ANSWERED' OR outcome = 'transferred') AS answered
FROM calls WHERE {DAY_CALLS} GROUP BY flow
"""

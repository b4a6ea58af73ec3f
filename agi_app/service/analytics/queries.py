"""The analytics aggregations, in SQL over ``calls`` and ``call_steps``.

Every query takes the period as [start, end) timestamps and an optional flow,
selects the calls by ``calls_started_at`` (refused calls left out) and reaches
their steps through the ``call_steps`` primary key (call_id, seq, started_at).

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
  hung up       the call's last visit, when the outcome is ``abandoned``; the
                step's digits and result (``last_hint``) let the report move it
                to the node the flow went on to when that one is stamped only
                on leaving (a caller who hangs up in a menu leaves no menu step).
  asked agent   a menu or input answered validly (not failed) followed by a
                transfer to a queue, with at most one logic node or play between
                (main > agent > to_support).
  invalid       menu: its ``invalid`` count; input: attempts that failed.
  first service the first successful transaction (a self-service result) or
                the transfer that an agent answered; the journeys do not stamp
                the moment the agent picks up, so it counts from joining the queue.
  handling time of an answered queue visit: queue result stamp - transfer stamp,
                which includes the queue wait.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

LEFT_STAMPED = "('menu', 'dynamic_menu', 'input', 'transaction', 'queue_result')"
INTERACTIVE = "('menu', 'dynamic_menu', 'input')"
PASSING = "('branch', 'set', 'goto', 'return', 'play')"
PLUMBING = "('hangup', 'branch', 'set', 'goto', 'return', 'queue_result')"

# The steps of the period's calls, as a range of the call_steps key: call ids are
# Asterisk unique ids ("<epoch>.<n>"), so the period's ids are close together in
# key order. Only a bound: the join on calls keeps exactly the period's calls.
# (OFFSET 0 keeps the planner from finding min(id) by walking the primary key
# from its start, which grows with the table, instead of the period's calls.)
# A step carries its call's start, the partition key of both tables: the bound on
# it keeps the scan to the period's partitions (migrations/0009).
PERIOD_IDS = "(SELECT {f}(id) FROM (SELECT id FROM calls WHERE started_at >= $1 AND started_at < $2 OFFSET 0) p)"  # noqa: E501
STEPS_OF_PERIOD = f"""
  AND st.started_at >= $1 AND st.started_at < $2
  AND st.call_id >= {PERIOD_IDS.format(f="min")} AND st.call_id <= {PERIOD_IDS.format(f="max")}"""

CALLS = f"""
c AS (
  SELECT id, flow, started_at, ended_at, outcome, queue, queue_status FROM calls
  WHERE started_at >= $1 AND started_at < $2 AND ($3::text IS NULL OR flow = $3)
    AND coalesce(outcome, '') <> 'refused'
    AND id >= {PERIOD_IDS.format(f="min")} AND id <= {PERIOD_IDS.format(f="max")}
)"""

FUNNEL_SQL = f"""
WITH {CALLS},
s AS (
  SELECT c.flow, st.seq, st.node, st.node_type AS t, c.outcome = 'abandoned' AS gone,
         CASE WHEN st.node_type IN {INTERACTIVE} THEN st.detail END AS detail,
         st.node_type = 'transaction' AND st.detail->>'ok' = 'true' AS served,
         date_part('epoch', st.at - coalesce(lag(st.at) OVER w, c.started_at)) AS before_s,
         date_part('epoch', coalesce(lead(st.at) OVER w, c.ended_at, st.at) - st.at) AS after_s,
         lead(st.node_type) OVER w AS t1, lead(st.node_type, 2) OVER w AS t2,
         CASE WHEN c.outcome = 'abandoned' AND lead(st.seq) OVER w IS NULL
              THEN jsonb_build_object('digits', st.digits, 'case', st.detail->'case',
                                      'ok', st.detail->'ok', 'status', st.detail->'status',
                                      'result', st.detail->'result')::text END AS last_hint
  FROM c JOIN call_steps st ON st.call_id = c.id {STEPS_OF_PERIOD}
  WINDOW w AS (PARTITION BY st.call_id ORDER BY st.seq)
),
e AS (
  SELECT *, coalesce(detail->>'result' = 'failed', false) AS failed FROM s
),
v AS (
  SELECT flow, node, t, seq, served, failed, t <> 'queue_result' AS visit, last_hint,
         CASE WHEN t = 'input' THEN coalesce((detail->>'attempts')::int, 1) - 1 + failed::int
              ELSE coalesce((detail->>'invalid')::int, 0) END AS invalid,
         coalesce((detail->>'timeouts')::int, 0) AS timeouts,
         -- A transfer followed by its queue result: the result row carries the visit's time.
         CASE WHEN t = 'transfer' AND t1 = 'queue_result' THEN NULL
              ELSE round(10 * (CASE WHEN t IN {LEFT_STAMPED} THEN before_s ELSE 0 END
                               + CASE WHEN t1 IS NULL OR t1 NOT IN {LEFT_STAMPED} THEN after_s
                                      ELSE 0 END)) / 10 END AS dwell_s,
         gone AND t1 IS NULL AS hung_up,
         t IN {INTERACTIVE} AND NOT failed
           AND (t1 = 'transfer' OR (t1 IN {PASSING} AND t2 = 'transfer')) AS asked
  FROM e
)
SELECT flow, node, max(t) FILTER (WHERE visit) AS node_type, dwell_s, last_hint,
       count(*) FILTER (WHERE visit) AS visits, count(dwell_s) AS samples,
       min(seq) AS first_seq,
       count(*) FILTER (WHERE hung_up) AS hung_up,
       count(*) FILTER (WHERE asked) AS asked_agent,
       sum(invalid) AS invalid, sum(timeouts) AS timeouts,
       count(*) FILTER (WHERE failed) AS failed,
       count(*) FILTER (WHERE served) AS served
FROM v
GROUP BY flow, node, dwell_s, last_hint
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
  FROM c JOIN call_steps st ON st.call_id = c.id {STEPS_OF_PERIOD}
  GROUP BY c.id, c.flow, c.started_at
),
f AS (
  SELECT p.flow, p.path,
         date_part('epoch', least(p.self_at, t.at) - p.started_at) AS to_service_s
  FROM p LEFT JOIN call_steps t ON t.call_id = p.id AND t.seq = p.agent_seq - 1
    AND t.started_at = p.started_at AND t.started_at >= $1 AND t.started_at < $2
)
SELECT flow, path, round(10 * to_service_s) / 10 AS to_service_s, count(*) AS calls
FROM f GROUP BY flow, path, 3
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
l AS (  -- per call, straight off the call_steps key (no join before grouping)
  SELECT st.call_id,
         (array_agg(st.node ORDER BY (st.node_type NOT IN {PLUMBING} AND st.node_type NOT IN
                                        {INTERACTIVE}) DESC,
                                     (st.node_type NOT IN {PLUMBING}) DESC,
                                     st.seq DESC))[1] AS last_node
  FROM call_steps st WHERE true {STEPS_OF_PERIOD}
  GROUP BY st.call_id
)
SELECT f.flow, l.last_node, count(*) AS calls,
       count(*) FILTER (WHERE next_at < started_at + interval '24 hours') AS again_24h,
       count(*) FILTER (WHERE next_at < started_at + interval '7 days') AS again_7d
FROM f JOIN l ON l.call_id = f.id GROUP BY f.flow, l.last_node
"""

STAFFING_SQL = f"""
WITH {CALLS},
q AS (
  SELECT c.flow, st.node_type, st.at, st.detail->>'queue' AS queue,
         lead(st.node_type) OVER w AS next_type, lead(st.detail->>'status') OVER w AS status,
         date_part('epoch', lead(st.at) OVER w - st.at) AS handled_s
  FROM c JOIN call_steps st ON st.call_id = c.id {STEPS_OF_PERIOD}
  WHERE st.node_type IN ('transfer', 'queue_result')
  WINDOW w AS (PARTITION BY st.call_id ORDER BY st.seq)
)
SELECT flow, queue,
       (extract(hour FROM at AT TIME ZONE $4) * 2
        + floor(extract(minute FROM at AT TIME ZONE $4) / 30))::int AS slot,
       count(*) AS arrivals,
       count(*) FILTER (WHERE next_type = 'queue_result' AND status = 'ANSWERED') AS answered,
       coalesce(sum(handled_s) FILTER (WHERE next_type = 'queue_result' AND status = 'ANSWERED'),
                0) AS handled_s
FROM q WHERE node_type = 'transfer'
GROUP BY flow, queue, slot
"""

VOLUME_SQL = f"""
WITH {CALLS}
SELECT flow, count(*) AS calls, count(*) FILTER (WHERE queue IS NOT NULL) AS asked_agent,
       count(*) FILTER (WHERE queue_status = 'ANSWERED' OR outcome = 'transferred') AS answered
FROM c GROUP BY flow
"""


# Queries whose steps should come in key order (a merge join on the call_steps
# key, which the per-call window needs anyway) rather than be hashed and sorted:
# the planner cannot know how many steps the call-id range holds and guesses few.
KEY_ORDER = {"funnel", "paths", "staffing"}


async def _fetch(conn: Any, name: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with conn.transaction():
        # Sorts and hashes of a month of steps stay in memory.
        await conn.execute("SET LOCAL work_mem = '256MB'")
        await conn.execute("SET LOCAL jit = off")  # compiling costs more than it saves here
        if name in KEY_ORDER:
            await conn.execute("SET LOCAL enable_sort = off")
        return [dict(r) for r in await conn.fetch(sql, *args)]


# A day's figures are kept once no journey of it can still arrive: calls end and
# the journey writer flushes within hours; repeats look 7 days past the day.
SETTLED = timedelta(hours=2)
LOOKS_AHEAD = {"repeats": timedelta(days=7)}
CACHE_READ = """
SELECT day, rows FROM analytics_days WHERE report = $1 AND tz = $2 AND day = ANY($3::date[])
"""
CACHE_WRITE = """
INSERT INTO analytics_days (report, tz, day, rows) VALUES ($1, $2, $3, $4::jsonb)
ON CONFLICT (report, tz, day) DO UPDATE SET rows = EXCLUDED.rows, computed_at = now()
"""


@dataclass(frozen=True)
class Period:
    """[start, end) at midnights of the hotline's zone ``tz``; with ``now`` the
    figures of settled days are read from and kept in ``analytics_days``."""

    start: datetime
    end: datetime
    tz: str
    now: datetime | None = None


async def _run(
    conns: Sequence[Any], name: str, sql: str, period: Period, *args: Any
) -> list[dict[str, Any]]:
    """Rows of ``sql`` over the period, for all flows. Without ``period.now``
    the period is one slice; with it, one slice per day and the settled days'
    rows are read from (and kept in) ``analytics_days``. The slices left to
    compute are cut so that every connection has work, and run at once."""
    slices: list[tuple[date | None, datetime, datetime]] = []
    if period.now is None:
        slices.append((None, period.start, period.end))
    else:
        d = period.start
        while d < period.end:
            slices.append((d.date(), d, d + timedelta(days=1)))
            d = d + timedelta(days=1)
    kept: dict[date, list[dict[str, Any]]] = {}
    if period.now is not None:
        found = await conns[0].fetch(CACHE_READ, name, period.tz, [s[0] for s in slices])
        kept = {r["day"]: json.loads(r["rows"]) for r in found}
    todo = [s for s in slices if s[0] not in kept]
    cut = max(1, len(conns) // len(todo)) if todo else 1
    pieces = [
        (i, a + (b - a) * k / cut, a + (b - a) * (k + 1) / cut)
        for i, (_, a, b) in enumerate(todo)
        for k in range(cut)
    ]
    results: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(todo))}

    async def worker(conn: Any) -> None:
        while pieces:
            i, a, b = pieces.pop(0)
            results[i] += await _fetch(conn, name, sql, a, b, None, *args)

    await asyncio.gather(*(worker(c) for c in conns))
    settle = SETTLED + LOOKS_AHEAD.get(name, timedelta())
    for i, (day, _, end) in enumerate(todo):
        if day is not None and period.now is not None and end + settle < period.now:
            await conns[0].execute(
                CACHE_WRITE, name, period.tz, day, json.dumps(results[i], default=float)
            )
    rows = [r for part in kept.values() for r in part]
    return rows + [r for i in sorted(results) for r in results[i]]


def _of_flow(rows: list[dict[str, Any]], flow: str | None) -> list[dict[str, Any]]:
    return rows if flow is None else [r for r in rows if r["flow"] == flow]


async def funnel_rows(
    conns: Sequence[Any], period: Period, flow: str | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per (flow, node, dwell to 0.1 s): visits and counts; and the calls per flow."""
    rows = _of_flow(await _run(conns, "funnel", FUNNEL_SQL, period), flow)
    counts: dict[str, int] = {}
    for r in _of_flow(await _run(conns, "calls", COUNT_SQL, period), flow):
        counts[r["flow"]] = counts.get(r["flow"], 0) + r["calls"]
    return rows, counts


async def path_rows(conns: Sequence[Any], period: Period, flow: str | None) -> list[dict[str, Any]]:
    """Per (flow, path, seconds to first service to 0.1 s, or None): calls."""
    return _of_flow(await _run(conns, "paths", PATHS_SQL, period), flow)


async def repeat_rows(
    conns: Sequence[Any], period: Period, flow: str | None
) -> list[dict[str, Any]]:
    """Per (flow, last node of the call): calls, and how many called again."""
    return _of_flow(await _run(conns, "repeats", REPEATS_SQL, period), flow)


async def staffing_rows(
    conns: Sequence[Any], period: Period, flow: str | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per (queue, half-hour slot of the day): arrivals, answered, seconds handled;
    and the period's calls, agent requests and answered ones."""
    rows = _of_flow(await _run(conns, "staffing", STAFFING_SQL, period, period.tz), flow)
    volume = {"calls": 0, "asked_agent": 0, "answered": 0}
    for r in _of_flow(await _run(conns, "volume", VOLUME_SQL, period), flow):
        for k in volume:
            volume[k] += r[k]
    return rows, volume

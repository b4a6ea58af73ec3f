"""What the journey writer sends PostgreSQL: its statements and their rows.

``calls`` and ``call_steps`` are partitioned by day on the call's start
(migrations/0009), and their keys include it: ``calls (id, started_at)``,
``call_steps (call_id, seq, started_at)``. So every row the writer sends
carries its call's start, and each batch first asks, in one query, which of
its calls are there already (``KNOWN_SQL``, by the calls key, within the days
around the batch's events):

- a start whose call is there is not inserted again: a replay of the spool
  (same key), or a call adopted after a crash, whose new start comes later
  (the first one stays);
- steps and the end take the start the table has (for an adopted call, the
  first one), so a replayed or renumbered step meets its key again, and the
  end's UPDATE finds its row by the whole key;
- a step whose call is nowhere (its start was refused) keeps its own time as
  the key; an end whose call is nowhere has nothing to update, as before.

Starts and steps are inserted a row at a time: an INSERT of values is routed
to its partition without being planned against them (75,000 step rows/s
measured with 400 days of partitions). The statements that read ``calls`` run
once a batch, the lookup and the ends' UPDATE: planned a row at a time against
the partitions, an UPDATE cost 200-600 us a row, 12 times an insert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from agi_app.core.journey import CallEnd, CallStart, CallStep, JourneyEvent

END_FIELDS = (
    "flow",
    "flow_version",
    "caller_e164",
    "grade",
    "lookup",
    "shedding_level",
    "shedding_rule",
    "queue",
    "queue_status",
    "agent",
    "risk",
    "risk_reasons",
    "announcement",
    "ab_variant",
)

# A call's row lies within this span before its events (a call lasts far less),
# or a little after them (a clock stepped back).
SPAN_BEFORE = timedelta(days=2)
SPAN_AFTER = timedelta(hours=1)

# The two statements that read calls (the lookup, the ends' UPDATE) probe each
# call by the calls key and are planned afresh for each batch: the plan cache
# would keep the plan made while a new day's partition was empty, and against an
# empty table any index, or a scan, looks as good as the key; the plan kept may
# then walk the day's rows (measured: 600-800 ms a batch at 100,000 rows, against
# 1 ms planned afresh). Planned afresh, their bounds also leave out the other
# days' partitions. The inserts keep their cached plans (afresh: 25 us a step,
# not 14). The lookup is a LATERAL probe a call: a call has one row (the writer
# never adds a second start), and no ORDER BY, which would offer a walk by time.
CUSTOM_PLANS_SQL = "SET LOCAL plan_cache_mode = force_custom_plan"
CACHED_PLANS_SQL = "SET LOCAL plan_cache_mode TO DEFAULT"
KNOWN_SQL = (
    "SELECT u.id, k.started_at FROM unnest($1::text[]) AS u(id) CROSS JOIN LATERAL"
    " (SELECT c.started_at FROM calls c WHERE c.id = u.id"
    " AND c.started_at > $2 AND c.started_at <= $3 LIMIT 1) k"
)
# The starts and the steps of a batch as one statement each, a column an array
# (one execution, not one a row: a partitioned insert's set-up is per statement).
START_SQL = (
    "INSERT INTO calls (id, caller, called, via, started_at, node)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
    " $5::timestamptz[], $6::text[]) ON CONFLICT (id, started_at) DO NOTHING"
)
STEP_SQL = (
    "INSERT INTO call_steps (call_id, seq, node, node_type, digits, detail, at, started_at)"
    " SELECT s.call_id, s.seq, s.node, s.node_type, s.digits, s.detail::jsonb, s.at, s.started_at"
    " FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],"
    " $7::timestamptz[], $8::timestamptz[])"
    " AS s(call_id, seq, node, node_type, digits, detail, at, started_at) ON CONFLICT DO NOTHING"
)
# The ends of a batch in one statement, each row found by the whole calls key
# (the starts' values also leave out the other days' partitions): one array per
# column, the risk reasons as JSON (an array of arrays must be rectangular).
_END_TYPES = {"shedding_level": "int", "risk": "real", "risk_reasons": "text"}
END_COLUMNS = ("id", "ended_at", "outcome", "hangup_cause", *END_FIELDS, "started_at")
_ARRAY_TYPES = (
    *("text", "timestamptz", "text", "int"),
    *(_END_TYPES.get(f, "text") for f in END_FIELDS),
    "timestamptz",
)
_REASONS = (
    "CASE WHEN e.risk_reasons IS NULL THEN NULL"
    " ELSE ARRAY(SELECT jsonb_array_elements_text(e.risk_reasons::jsonb)) END"
)
END_SQL = (
    "UPDATE calls c SET ended_at = e.ended_at, outcome = e.outcome, hangup_cause = e.hangup_cause, "
    + ", ".join(
        f"{f} = COALESCE(" + (_REASONS if f == "risk_reasons" else f"e.{f}") + f", c.{f})"
        for f in END_FIELDS
    )
    + " FROM unnest("
    + ", ".join(f"${i}::{t}[]" for i, t in enumerate(_ARRAY_TYPES, 1))
    + f") AS e({', '.join(END_COLUMNS)})"
    + " WHERE c.id = e.id AND c.started_at = e.started_at"
    + f" AND c.started_at = ANY(${len(_ARRAY_TYPES)}::timestamptz[])"
)  # fmt: skip


def _moment(event: JourneyEvent) -> datetime:
    if isinstance(event, CallStart):
        t = event.started_at
    elif isinstance(event, CallStep):
        t = event.at
    else:
        t = event.ended_at
    return _utc(t)


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # as asyncpg reads it


async def known_starts(conn: Any, batch: Sequence[JourneyEvent]) -> dict[str, datetime]:
    """The start of each call of ``batch`` that ``calls`` has."""
    times = [_moment(e) for e in batch]
    ids = sorted({e.call_id for e in batch})
    await conn.execute(CUSTOM_PLANS_SQL)
    rows = await conn.fetch(KNOWN_SQL, ids, min(times) - SPAN_BEFORE, max(times) + SPAN_AFTER)
    await conn.execute(CACHED_PLANS_SQL)
    return {r["id"]: r["started_at"] for r in rows}


async def update_ends(conn: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    """End these calls (rows of ``end_row``): the batch's last statement."""
    await conn.execute(CUSTOM_PLANS_SQL)  # until the transaction ends
    await conn.execute(END_SQL, *end_args(rows))


def as_columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as one list per column: the arrays of ``START_SQL`` and ``STEP_SQL``."""
    return [list(column) for column in zip(*rows, strict=True)]


def text(value: str, limit: int) -> str:
    """Bounded text PostgreSQL accepts (it refuses NUL; callers can send one)."""
    return value.replace("\x00", "")[:limit]


def start_row(e: CallStart, node: str | None) -> tuple[Any, ...]:
    return (e.call_id, text(e.caller, 200), text(e.called, 80), e.via, e.started_at, node)


def step_row(e: CallStep, call_start: datetime | None = None) -> tuple[Any, ...]:
    """The step's row; ``call_start`` is its call's (its own time when unknown)."""
    detail = dict(e.detail)
    seq = detail.pop("_seq", 0)
    if e.prompts:
        detail["prompts"] = [{"sound": s, "barge_in": b} for s, b in e.prompts]
    return (
        e.call_id,
        seq,
        text(e.node, 200),
        text(e.node_type, 40),
        text(e.digits, 64),
        detail_json(detail),
        e.at,
        e.at if call_start is None else call_start,
    )


# Dates and dataclasses as str() writes them, as the standard library's json
# with default=str did (the stored details keep their shape); orjson is ~5x faster.
_ORJSON = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def detail_json(detail: dict[str, Any]) -> str:
    """A step's detail as JSON text for ``jsonb``."""
    try:
        return orjson.dumps(detail, default=str, option=_ORJSON).decode()
    except (TypeError, orjson.JSONEncodeError):  # e.g. an int wider than 64 bits
        return json.dumps(detail, default=str, ensure_ascii=False)


def _end_value(field: str, v: Any) -> Any:
    if field == "shedding_level":
        return int(v)
    if field == "risk":
        return float(v)
    if field == "risk_reasons":
        return [text(str(r), 80) for r in v][:10]
    return text(str(v), 200)


def end_row(e: CallEnd, call_start: datetime) -> tuple[Any, ...]:
    """One end as a row of ``END_COLUMNS``."""
    facts = e.facts
    values: list[Any] = []
    for field in END_FIELDS:
        v = facts.get(field)
        values.append(None if v is None else _end_value(field, v))
    return (e.call_id, e.ended_at, e.outcome, e.hangup_cause, *values, call_start)


def end_args(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """The parameters of ``END_SQL`` for these end rows: one array per column.
    Two ends of one call (a call adopted after a crash ended twice): the later
    one's values, the earlier's where the later has none, as two UPDATEs in turn
    would leave it."""
    merged: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        before = merged.get(row[0])
        merged[row[0]] = (
            row
            if before is None
            else tuple(b if v is None else v for v, b in zip(row, before, strict=True))
        )
    reasons = END_COLUMNS.index("risk_reasons")
    columns = [list(c) for c in zip(*merged.values(), strict=True)]
    columns[reasons] = [None if r is None else json.dumps(r) for r in columns[reasons]]
    return columns

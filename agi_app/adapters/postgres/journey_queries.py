"""Reading journeys back: the latest calls, one call's journey once it has
ended, and its node path. The CLI (`journeys`, `qa call`), QA runs and the
tests all read journeys through here."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

LATEST_SQL = (
    "SELECT * FROM calls WHERE ($2::text IS NULL OR caller_e164 = $2)"
    " ORDER BY started_at DESC LIMIT $1"
)
STEPS_SQL = (
    "SELECT call_id, seq, node, node_type, digits, detail::text AS detail, at"
    " FROM call_steps WHERE call_id = ANY($1::text[]) AND started_at = ANY($2::timestamptz[])"
    " ORDER BY call_id, seq"
)
FINISHED_SQL = (
    "SELECT * FROM calls WHERE caller = $1 AND started_at >= $2"
    " AND ended_at IS NOT NULL ORDER BY started_at LIMIT 1"
)
ONE_CALL_STEPS_SQL = (
    "SELECT node, node_type, digits, detail::text AS detail FROM call_steps"
    " WHERE call_id = $1 AND started_at = $2 ORDER BY seq"
)


async def latest_journeys(conn: Any, last: int, caller: str | None = None) -> list[dict[str, Any]]:
    """The latest ``last`` calls (of one E.164 caller, if given) with their steps,
    newest first, as JSON-ready dicts."""
    rows = await conn.fetch(LATEST_SQL, last, caller)
    steps = await conn.fetch(STEPS_SQL, [r["id"] for r in rows], [r["started_at"] for r in rows])
    by_call: dict[str, list[dict[str, Any]]] = {}
    for st in steps:
        by_call.setdefault(st["call_id"], []).append(
            {
                "seq": st["seq"],
                "node": st["node"],
                "type": st["node_type"],
                "digits": st["digits"],
                "detail": json.loads(st["detail"]),
                "at": st["at"].isoformat(),
            }
        )
    out = []
    for r in rows:
        call = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(r).items()}
        call["steps"] = by_call.get(r["id"], [])
        out.append(call)
    return out


async def wait_journey(
    conn: Any, caller: str, since: datetime, timeout: float = 20
) -> dict[str, Any]:
    """The first finished journey from ``caller`` (as dialled) that started at or
    after ``since``; steps carry node, node_type, digits and detail (JSON text).
    Raises TimeoutError when none has ended within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = await conn.fetchrow(FINISHED_SQL, caller, since)
        if row is not None:
            steps = await conn.fetch(ONE_CALL_STEPS_SQL, row["id"], row["started_at"])
            return {**dict(row), "steps": [dict(s) for s in steps]}
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no finished journey for {caller} within {timeout} s")


def node_path(steps: list[dict[str, Any]]) -> str:
    """``entry > main[1] > balance``: each step's node, with the digits it took."""
    return " > ".join(s["node"] + (f"[{s['digits']}]" if s["digits"] else "") for s in steps)

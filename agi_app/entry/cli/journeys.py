"""`agi-app journeys --last N [--json]`: the latest call journeys."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import asyncpg

from agi_app.settings import get_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("journeys", help="print the latest call journeys")
    p.add_argument("--last", type=int, default=10, help="how many calls (default 10)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--caller", help="only calls from this normalised (E.164) number")
    p.set_defaults(handler=_handle)


async def fetch_journeys(dsn: str, last: int, caller: str | None = None) -> list[dict[str, Any]]:
    """The latest ``last`` calls with their steps, newest first."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT * FROM calls WHERE ($2::text IS NULL OR caller_e164 = $2)"
            " ORDER BY started_at DESC LIMIT $1",
            last,
            caller,
        )
        ids = [r["id"] for r in rows]
        steps = await conn.fetch(
            "SELECT call_id, seq, node, node_type, digits, detail::text AS detail, at"
            " FROM call_steps WHERE call_id = ANY($1::text[]) ORDER BY call_id, seq",
            ids,
        )
    finally:
        await conn.close()
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


def _handle(args: argparse.Namespace) -> int:
    journeys = asyncio.run(fetch_journeys(get_settings().pg_dsn, args.last, args.caller))
    if args.json:
        print(json.dumps(journeys, ensure_ascii=False, indent=2))
        return 0
    for j in journeys:
        path = " > ".join(
            f"{s['node']}{'[' + s['digits'] + ']' if s['digits'] else ''}" for s in j["steps"]
        )
        print(
            f"{j['started_at']}  {j['caller_e164'] or j['caller']:>16} -> {j['called']:<12}"
            f" {j['outcome'] or 'in progress':<12} cause={j['hangup_cause']}  {path}"
        )
    return 0

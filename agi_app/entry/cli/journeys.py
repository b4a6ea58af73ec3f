"""`agi-app journeys --last N [--json]`: the latest call journeys."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import asyncpg

from agi_app.adapters.postgres.journey_queries import latest_journeys, node_path
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
        return await latest_journeys(conn, last, caller)
    finally:
        await conn.close()


def _handle(args: argparse.Namespace) -> int:
    journeys = asyncio.run(fetch_journeys(get_settings().pg_dsn, args.last, args.caller))
    if args.json:
        print(json.dumps(journeys, ensure_ascii=False, indent=2))
        return 0
    for j in journeys:
        path = node_path(j["steps"])
        print(
            f"{j['started_at']}  {j['caller_e164'] or j['caller']:>16} -> {j['called']:<12}"
            f" {j['outcome'] or 'in progress':<12} cause={j['hangup_cause']}  {path}"
        )
    return 0

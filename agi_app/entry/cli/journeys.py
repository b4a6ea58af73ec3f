"""`agi-app journeys --last N [--json]`: the latest call journeys, their times
in the hotline's time zone (AGI_APP_TIMEZONE) with its offset.

`agi-app journeys partitions [--ensure] [--drop-old] [--exact] [--json]`: the
daily partitions of ``calls`` and ``call_steps`` with their rows; ``--ensure``
creates them ahead and ``--drop-old`` drops those past the retention, as the
running app does at start and every five minutes
(agi_app/adapters/postgres/partitions.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from agi_app.adapters.postgres.journey_queries import latest_journeys, node_path
from agi_app.adapters.postgres.partitions import (
    days_to_keep_ready,
    drop_old_partitions,
    ensure_partitions,
    list_partitions,
    partitioned,
    utc_today,
)
from agi_app.entry.cli.database import connection
from agi_app.settings import Settings, get_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("journeys", help="print the latest call journeys")
    p.add_argument("--last", type=int, default=10, help="how many calls (default 10)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--caller", help="only calls from this normalised (E.164) number")
    p.set_defaults(handler=_handle)
    actions = p.add_subparsers(dest="journeys_action", metavar="partitions")
    q = actions.add_parser(
        "partitions", help="the daily partitions of calls and call_steps, with their rows"
    )
    q.add_argument(
        "--ensure",
        action="store_true",
        help="create the partitions from yesterday to AGI_APP_JOURNEY_PARTITIONS_AHEAD days ahead",
    )
    q.add_argument(
        "--drop-old",
        action="store_true",
        help="drop the partitions older than AGI_APP_JOURNEY_RETENTION_DAYS (0: none)",
    )
    q.add_argument(
        "--exact", action="store_true", help="count the rows (default: PostgreSQL's estimate)"
    )
    q.add_argument("--json", action="store_true", help="JSON output")
    q.set_defaults(handler=_partitions)


async def fetch_journeys(s: Settings, last: int, caller: str | None = None) -> list[dict[str, Any]]:
    """The latest ``last`` calls with their steps, newest first."""
    async with connection(s) as conn:
        return await latest_journeys(conn, last, caller)


def _local(value: Any, zone: tzinfo) -> Any:
    """An ISO timestamp with an offset, as the same moment in ``zone``; else ``value``."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return value if moment.tzinfo is None else moment.astimezone(zone).isoformat()


def local_times(j: dict[str, Any], zone: tzinfo) -> dict[str, Any]:
    """The journey with its times (``*_at``, each step's ``at``) in ``zone``, the
    hotline's: the zone ``report`` and ``analytics`` count their days in."""
    out = {k: _local(v, zone) if k.endswith("_at") else v for k, v in j.items()}
    if "steps" in out:
        out["steps"] = [{k: _local(v, zone) if k == "at" else v for k, v in st.items()}
                        for st in out["steps"]]  # fmt: skip
    return out


def journey_line(j: dict[str, Any]) -> str:
    """One journey as a line: start, node that served it, caller, outcome, path."""
    return (
        f"{j['started_at']}  {j.get('node') or '-':<12} {j['caller_e164'] or j['caller']:>16}"
        f" -> {j['called']:<12} {j['outcome'] or 'in progress':<12}"
        f" cause={j['hangup_cause']}  {node_path(j['steps'])}"
    )


def _handle(args: argparse.Namespace) -> int:
    s = get_settings()
    zone = ZoneInfo(s.timezone)
    journeys = [
        local_times(j, zone) for j in asyncio.run(fetch_journeys(s, args.last, args.caller))
    ]
    if args.json:
        print(json.dumps(journeys, ensure_ascii=False, indent=2))
        return 0
    for j in journeys:
        print(journey_line(j))
    return 0


async def partitions_report(
    s: Settings, ensure: bool, drop_old: bool, exact: bool
) -> dict[str, Any]:
    """Ensure and drop as asked, then list; the JSON shape of the command."""
    async with connection(s) as conn:
        if not await partitioned(conn):
            raise SystemExit(
                "error: calls and call_steps are not partitioned: run `agi-app migrate`"
            )
        today = utc_today()
        created: list[str] = []
        dropped: list[str] = []
        if ensure:
            created = await ensure_partitions(
                conn, days_to_keep_ready(today, s.journey_partitions_ahead)
            )
        if drop_old:
            dropped = await drop_old_partitions(conn, today, s.journey_retention_days)
        found = await list_partitions(conn, exact)
    return {
        "created": created,
        "dropped": dropped,
        "retention_days": s.journey_retention_days,
        "partitions": [p.as_dict() for p in found],
    }


def render_partitions(report: dict[str, Any]) -> str:
    lines = [f"{'table':<11}{'partition':<22}{'day':<12}{'rows':>12}"]
    for p in report["partitions"]:
        rows = f"{p['rows']}" if p["exact"] else f"~{p['rows']}"
        lines.append(f"{p['table']:<11}{p['name']:<22}{p['day'] or '(default)':<12}{rows:>12}")
    keep = report["retention_days"]
    lines.append(f"\nretention: {f'{keep} days' if keep else 'forever'}")
    for what in ("created", "dropped"):
        if report[what]:
            lines.append(f"{what}: {', '.join(report[what])}")
    return "\n".join(lines)


def _partitions(args: argparse.Namespace) -> int:
    report = asyncio.run(partitions_report(get_settings(), args.ensure, args.drop_old, args.exact))
    print(json.dumps(report, indent=1) if args.json else render_partitions(report))
    return 0

"""`agi-app report --from DATE --to DATE [--format table|csv|json] [--variants] [--node NAME]`.

``--variants`` compares the A/B variants of the period instead (calls,
self-service share, transfer share, average time in IVR, each with its count).
With csv, stdout is CSV only; the summary (time zone, fluctuation coefficient)
goes to stderr as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
from datetime import date
from typing import Any

from agi_app.core.analytics.period import period_problem
from agi_app.entry.cli.database import connection
from agi_app.entry.cli.errors import error
from agi_app.service.operations import variants
from agi_app.service.report import DailyFigures, fetch_report, fluctuation
from agi_app.settings import get_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report", help="daily self-service and load figures"
    )
    p.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    p.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--variants", action="store_true", help="compare the A/B variants")
    p.add_argument(
        "--node",
        help="only the calls this node served (calls.node); callbacks stay the whole hotline's",
    )
    p.set_defaults(handler=_handle)


def render_variants(rows: list[dict[str, Any]], fmt: str, tz: str) -> str:
    """The A/B comparison; every share with the counts behind it. ``tz``: the
    zone the period's days are counted in."""
    if fmt == "json":
        return json.dumps({"timezone": tz, "variants": rows}, indent=1, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["variant"])
        w.writeheader()
        w.writerows(rows)
        return out.getvalue()
    if not rows:
        return f"no calls with an A/B variant in the period (days in {tz})"
    lines = [
        f"days in {tz}",
        f"{'variant':<28}{'calls':>7}  {'self-service':<20}{'transfer':<20}{'avg IVR':<16}",
    ]
    for r in rows:
        ivr = "-" if r["avg_ivr_s"] is None else f"{r['avg_ivr_s']} s (n={r['timed_calls']})"
        lines.append(
            f"{r['variant']:<28}{r['calls']:>7}  "
            f"{r['self_service_share']:.1%} ({r['self_service']}/{r['calls']})".ljust(20 + 37)
            + f"{r['transfer_share']:.1%} ({r['transferred']}/{r['calls']})".ljust(20)
            + ivr
        )
    return "\n".join(lines)


def render(figs: list[DailyFigures], fmt: str, tz: str) -> str:
    """The daily figures; ``tz``: the zone the days are counted in."""
    rows = [f.as_dict() for f in figs]
    coeff = fluctuation(figs)
    if fmt == "json":
        return json.dumps(
            {"timezone": tz, "days": rows, "fluctuation_coefficient": coeff}, indent=1
        )
    if fmt == "csv":
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["day"])
        w.writeheader()
        w.writerows(rows)
        return out.getvalue()
    head = (
        f"{'day':<11}{'calls':>7}{'self-svc':>10}{'transfer':>10}{'L1':>5}{'L2':>5}{'L3':>5}"
        f"{'L4':>5}{'abandon':>9}{'cb req':>8}{'cb made':>8}"
    )
    lines = [f"days in {tz}", head, "-" * len(head)]
    for f in figs:
        lines.append(
            f"{f.day.isoformat():<11}{f.calls:>7}{f.self_service_share:>10.1%}"
            f"{f.transfer_share:>10.1%}"
            + "".join(f"{f.shed[k]:>5}" for k in (1, 2, 3, 4))
            + f"{f.abandoned_in_queue:>9}{f.callbacks_requested:>8}{f.callbacks_made:>8}"
        )
    total = sum(f.calls for f in figs)
    ss = sum(f.self_service for f in figs)
    lines.append(
        f"\ncalls {total}, self-service share {ss / total if total else 0:.2%}, "
        f"fluctuation coefficient {coeff}"
    )
    return "\n".join(lines)


def _handle(args: argparse.Namespace) -> int:
    problem = period_problem(args.first, args.last)
    if problem:
        error(problem)
        return 2
    if args.last < args.first:
        error("--to is before --from")
        return 1
    s = get_settings()
    if args.variants and args.node:
        error("--node filters the daily figures, not --variants")
        return 1
    if args.variants:

        async def compare() -> list[dict[str, Any]]:
            async with connection(s) as conn:
                return await variants(conn, args.first, args.last, s.timezone)

        rows = asyncio.run(compare())
        show(render_variants(rows, args.format, s.timezone), args.format, {"timezone": s.timezone})
        return 0

    async def run() -> list[DailyFigures]:
        async with connection(s) as conn:
            return await fetch_report(conn, args.first, args.last, s.timezone, args.node)

    figures = asyncio.run(run())
    if args.node and args.format == "table":
        print(f"node {args.node} (callbacks: the whole hotline)\n")
    show(render(figures, args.format, s.timezone), args.format, summary(figures, s.timezone))
    return 0


def summary(figs: list[DailyFigures], tz: str) -> dict[str, Any]:
    """What CSV leaves out: the zone of the days and the period's coefficient."""
    return {"timezone": tz, "fluctuation_coefficient": fluctuation(figs)}


def show(text: str, fmt: str, about: dict[str, Any]) -> None:
    """Print ``text``; with csv nothing else goes to stdout (to pipe or save): the
    summary ``about`` goes to stderr as one JSON line."""
    if fmt != "csv":
        print(text)
        return
    sys.stdout.write(text)
    print(json.dumps(about, ensure_ascii=False), file=sys.stderr)

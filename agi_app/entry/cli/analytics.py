"""`agi-app analytics funnel|paths|repeats|staffing|generate`: journeys as figures.

Each report takes ``--from DATE --to DATE`` (days in the hotline's time zone,
both included), ``--flow F``, ``--format table|csv|json`` and ``--chart
FILE.svg|png``. With csv, stdout is CSV only; the summary goes to stderr as
one JSON line. ``generate`` writes a sample of journeys of a known shape.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import math
import os
import sys
import time
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agi_app.adapters.postgres.partitions import ensure_partitions
from agi_app.core.analytics import reports
from agi_app.core.analytics.period import check_day, period_problem
from agi_app.core.analytics.staffing import DEFAULT_AHT_S
from agi_app.core.clock import LAST_YEAR
from agi_app.core.flows.model import Flow
from agi_app.core.flows.source import parse_yaml, read_capped
from agi_app.core.risk import load_risk
from agi_app.entry.cli.database import connection
from agi_app.entry.cli.errors import error
from agi_app.service.analytics import queries, risk_eval
from agi_app.settings import get_settings
from agi_app.tools.analytics.charts import CHARTS
from agi_app.tools.analytics.generate import month_sample, write_calls


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "analytics", help="funnel, paths, repeats, staffing"
    )
    ss = p.add_subparsers(dest="report", required=True)
    for name, text in (
        ("funnel", "per node: visits, hang-ups, agent requests, errors, dwell"),
        ("paths", "commonest node paths and time to first service"),
        ("repeats", "callers who called again within 24 h and 7 days"),
        ("staffing", "arrivals, handling time and Erlang C agents per half hour"),
    ):
        r = ss.add_parser(name, help=text)
        r.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
        r.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
        r.add_argument("--flow")
        r.add_argument("--format", choices=["table", "csv", "json"], default="table")
        r.add_argument("--chart", type=Path, help="also draw FILE.svg or FILE.png")
        r.add_argument(
            "--fresh", action="store_true", help="recompute settled days instead of reading them"
        )
        r.set_defaults(handler=_handle)
    ss.choices["paths"].add_argument("--top", type=int, default=10)
    st = ss.choices["staffing"]
    st.add_argument("--service-level", type=float, default=0.8, help="share answered in time")
    st.add_argument("--within", type=float, default=20, help="seconds (service level target)")
    st.add_argument("--max-occupancy", type=float, default=1.0)
    st.add_argument("--aht", type=float, help="handling seconds instead of the measured ones")
    st.add_argument(
        "--default-aht-s",
        type=_seconds,
        default=DEFAULT_AHT_S,
        help="handling seconds assumed for a queue with no answered call to measure them from"
        f" (default {DEFAULT_AHT_S:g}; the output says where it was assumed)",
    )
    st.add_argument("--utilisation", type=float, default=0.85, help="online utilisation")
    st.add_argument("--attendance", type=float, default=0.95)
    st.add_argument("--shift-hours", type=float, default=8.0)
    st.add_argument("--loss-factor", type=float, default=0.9)
    rk = ss.add_parser("risk", help="how well the complaint-risk score would have predicted")
    rk.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    rk.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    rk.add_argument("--format", choices=["table", "csv", "json"], default="table")
    rk.add_argument("--sample", type=int, default=5000, help="callers at most (first come)")
    rk.set_defaults(handler=_risk)
    g = ss.add_parser("generate", help="write generated journeys (a scaled sample)")
    g.add_argument("--start", type=date.fromisoformat, required=True, help="first day")
    g.add_argument("--days", type=int, default=30)
    g.add_argument("--calls-per-day", type=int, default=17_000)
    g.add_argument("--seed", type=int, default=17)
    g.set_defaults(handler=_generate)


def _seconds(text: str) -> float:
    """A positive number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def _period(first: date, last: date, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime.combine(first, dtime(), zone)
    return start, datetime.combine(last + timedelta(days=1), dtime(), zone)


def flow_models(folder: Path) -> dict[str, Flow]:
    """The flows in ``folder`` by id (files that do not parse are left out: the
    funnel then counts hang-ups at the last recorded step)."""
    out: dict[str, Flow] = {}
    for path in sorted(folder.glob("*.yaml")):
        raw, _ = read_capped(path, path.name)
        doc, errors = parse_yaml(raw, path.name) if raw is not None else (None, [])
        if doc is None or errors:
            continue
        try:
            flow = Flow.model_validate(doc)
        except ValueError:
            continue
        out[flow.id] = flow
    return out


async def build(
    conns: list[Any], args: argparse.Namespace, tz: str, flows: dict[str, Flow] | None = None
) -> reports.Report:
    """The report ``args.report`` for the period and flow of ``args``."""
    start, end = _period(args.first, args.last, tz)
    now = None if getattr(args, "fresh", True) else datetime.now(UTC)
    period = queries.Period(start, end, tz, now)
    if args.report == "funnel":
        rows, calls = await queries.funnel_rows(conns, period, args.flow)
        return reports.funnel(rows, calls, flows)
    if args.report == "paths":
        return reports.paths(await queries.path_rows(conns, period, args.flow), args.top)
    if args.report == "repeats":
        return reports.repeats(await queries.repeat_rows(conns, period, args.flow))
    rows, volume = await queries.staffing_rows(conns, period, args.flow)
    targets = reports.Targets(
        args.service_level, args.within, args.max_occupancy, args.aht, args.default_aht_s
    )
    resource = {
        "utilisation": args.utilisation,
        "attendance": args.attendance,
        "shift_hours": args.shift_hours,
        "loss_factor": args.loss_factor,
    }
    days = (args.last - args.first).days + 1
    return reports.staffing(rows, volume, days, targets, resource)


def render(report: reports.Report, fmt: str, tz: str) -> str:
    """The report as an aligned table, CSV (the rows only: the summary is
    ``summary_line``'s, for stderr) or JSON; ``tz``: the zone its days (and half
    hours) are counted in."""
    if fmt == "json":
        body = {"report": report.title, "timezone": tz, "rows": report.rows, **report.summary}
        return json.dumps(body, indent=1, ensure_ascii=False, default=str)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=list(report.rows[0]) if report.rows else ["none"])
        w.writeheader()
        w.writerows(report.rows)
        return out.getvalue()
    summary = json.dumps(report.summary, ensure_ascii=False, default=str)
    if not report.rows:
        return f"no calls in the period (days in {tz})\n{summary}"
    cols = list(report.rows[0])
    cells = [[_cell(r[c]) for c in cols] for r in report.rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = [f"days in {tz}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines) + f"\n{summary}"


def summary_line(report: reports.Report, tz: str) -> str:
    """The report's summary as one JSON line: what CSV output puts on stderr."""
    body = {"report": report.title, "timezone": tz, **report.summary}
    return json.dumps(body, ensure_ascii=False, default=str)


def show(report: reports.Report, fmt: str, tz: str) -> None:
    """Print the report. With csv, stdout holds nothing but the CSV (to pipe or
    save) and the summary goes to stderr as one JSON line."""
    if fmt == "csv":
        sys.stdout.write(render(report, fmt, tz))
        print(summary_line(report, tz), file=sys.stderr)
    else:
        print(render(report, fmt, tz))


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _bad_period(args: argparse.Namespace) -> int | None:
    """The exit status for a period that cannot be reported on (said on stderr), or None."""
    problem = period_problem(args.first, args.last)
    if problem:
        error(problem)
        return 2
    if args.last < args.first:
        error("--to is before --from")
        return 1
    return None


def _handle(args: argparse.Namespace) -> int:
    if (bad := _bad_period(args)) is not None:
        return bad
    s = get_settings()
    flows = flow_models(s.flows_dir)
    if args.flow is not None and args.flow not in flows:
        # Not "no calls in the period": a typo would pass for a quiet flow.
        error(f"unknown flow {args.flow!r} (known: {', '.join(sorted(flows)) or 'none'})")
        return 2

    async def run() -> reports.Report:
        # One connection per core: each scans its own slice of the period.
        async with AsyncExitStack() as opened:
            conns = [
                await opened.enter_async_context(connection(s))
                for _ in range(max(1, os.cpu_count() or 1))
            ]
            return await build(conns, args, s.timezone, flows)

    began = time.monotonic()
    report = asyncio.run(run())
    show(report, args.format, s.timezone)
    if args.chart is not None:
        CHARTS[args.report](report, args.chart)
        # Beside a table; on stderr beside CSV or JSON, which stdout holds alone.
        print(f"chart: {args.chart}", file=sys.stdout if args.format == "table" else sys.stderr)
    if args.format == "table":
        print(f"({time.monotonic() - began:.2f} s)")
    return 0


def _risk(args: argparse.Namespace) -> int:
    if (bad := _bad_period(args)) is not None:
        return bad
    s = get_settings()
    cfg = load_risk(s.config_dir / "risk.yaml")
    start, end = _period(args.first, args.last, s.timezone)

    async def run() -> list[risk_eval.Scored]:
        async with connection(s) as conn:
            return await risk_eval.scored_callers(conn, start, end, cfg, args.sample)

    scored = asyncio.run(run())
    thresholds = [cfg.threshold / 2, cfg.threshold * 0.75, cfg.threshold, cfg.threshold * 1.5]
    rows = risk_eval.precision_recall(scored, [round(t, 2) for t in thresholds])
    summary = {
        "callers": len(scored),
        "positives": sum(s.positive for s in scored),
        "configured_threshold": cfg.threshold,
        "positive_means": "asked for an agent within 7 days, or tagged complaint_risk",
    }
    show(reports.Report("complaint risk", rows, summary), args.format, s.timezone)
    return 0


def generate_problem(start: date, days: int) -> str | None:
    """Why ``generate --start start --days days`` cannot run, or None."""
    try:
        check_day(start, "--start")
        check_day(start + timedelta(days=max(days - 1, 0)), "the last day")
    except ValueError as exc:
        return str(exc)
    except OverflowError:  # past year 9999, or more days than timedelta holds
        return f"--days {days} goes past the year {LAST_YEAR}"
    return None


def _generate(args: argparse.Namespace) -> int:
    if problem := generate_problem(args.start, args.days):
        error(problem)
        return 2
    s = get_settings()
    start = datetime.combine(args.start, dtime(), ZoneInfo(s.timezone))

    async def run() -> tuple[int, int]:
        calls = steps = 0
        async with connection(s) as conn:
            # The days' partitions first, so the sample does not land in the default one.
            first = start.astimezone(UTC).date()
            await ensure_partitions(conn, [first + timedelta(days=k) for k in range(args.days + 1)])
            for day in month_sample(start, args.days, args.calls_per_day, args.seed):
                await write_calls(conn, day)
                calls += len(day)
                steps += sum(len(c.steps) for c in day)
        return calls, steps

    calls, steps = asyncio.run(run())
    print(f"wrote {calls} calls, {steps} steps from {args.start} over {args.days} days")
    return 0

"""`agi-app bench [--smoke]`: the load benchmark (see agi_app/tools/bench/sipp.py).

`agi-app bench journeys [--seconds N]`: sustained journey writes into the
partitioned tables, against the 10086 peak (agi_app/tools/bench/journeys.py).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agi_app.settings import get_settings
from agi_app.tools.bench.journeys import bench_journeys, peak_need
from agi_app.tools.bench.journeys import render as render_journeys
from agi_app.tools.bench.series import bench, concurrency_cap, levers
from agi_app.tools.bench.sipp import RunFigures, machine, markdown
from agi_app.tools.stack import postgres
from agi_app.tools.stack.lifecycle import start as stack_start


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "bench", help="SIPp load: native IVR vs the app; or `bench journeys`: journey writes"
    )
    p.add_argument(
        "kind",
        nargs="?",
        choices=["calls", "journeys"],
        default="calls",
        help="calls (default): SIPp load on the stack; journeys: sustained journey writes"
        " into PostgreSQL (a scratch database) for --seconds",
    )
    p.add_argument("--smoke", action="store_true", help="a few seconds of load (make test)")
    p.add_argument("--rates", default="40,80,100,120,140,160,180", help="calls/s, comma-separated")
    p.add_argument("--seconds", type=float, default=15, help="seconds of load per run")
    p.add_argument("--output", type=Path, help="append the results to this markdown file")
    p.add_argument(
        "--past-days",
        type=int,
        help="journeys: daily partitions made before today (default the retention, 400)",
    )
    p.add_argument(
        "--lever-rate",
        type=float,
        default=100,
        help="calls/s of the lever runs (each cheap lever turned off in turn); 0: none",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the app (e.g. AGI_APP_UVLOOP=0)",
    )
    p.set_defaults(handler=_handle)


def _journeys(args: argparse.Namespace) -> int:
    s = get_settings()
    started = not postgres.running(s)
    postgres.start(s)  # PostgreSQL only: no Asterisk, no SIPp
    try:
        past = s.journey_retention_days if args.past_days is None else args.past_days
        result = asyncio.run(bench_journeys(s.pg_dsn, args.seconds, past))
    finally:
        if started:
            postgres.stop(s)
    print(render_journeys(result, peak_need(), machine()))
    return 0


def _handle(args: argparse.Namespace) -> int:
    if args.kind == "journeys":
        return _journeys(args)
    s = get_settings()
    stack_start()
    rates = [5.0] if args.smoke else [float(r) for r in args.rates.split(",")]
    seconds = 3.0 if args.smoke else args.seconds
    env = dict(e.split("=", 1) for e in args.env)
    figs, summary = asyncio.run(bench(s, rates, seconds, env, overload=not args.smoke))
    lever_figs: list[RunFigures] = []
    if not args.smoke and args.lever_rate > 0:
        lever_figs = asyncio.run(levers(s, args.lever_rate, seconds, env))
    table = markdown(figs)
    print(table)
    print(summary)
    if args.output:
        _record(args, seconds, rates, figs, lever_figs, summary)
    if args.smoke:
        return 0 if all(f.clean for f in figs) else 1
    return 0


LATEST = "## Latest run"


def _record(
    args: argparse.Namespace,
    seconds: float,
    rates: list[float],
    figs: list[RunFigures],
    lever_figs: list[RunFigures],
    summary: dict[str, Any],
) -> None:
    """One JSON line in bench-history.jsonl beside the page; the page's latest run."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = (
        f"agi-app bench --rates {args.rates} --seconds {seconds:g} --lever-rate "
        f"{args.lever_rate:g}{''.join(' --env ' + e for e in args.env)}"
    )
    record = {
        "date": stamp,
        "command": command,
        "machine": f"{machine()}, concurrent-call cap {concurrency_cap(max(rates))}",
        "summary": summary,
        "figures": [asdict(f) for f in figs + lever_figs],
    }
    history = args.output.with_name("bench-history.jsonl")
    with history.open("a") as fh:
        fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    levers = f"\nLevers (each off in turn):\n\n{markdown(lever_figs)}" if lever_figs else ""
    latest = (
        f"{LATEST}\n\n{stamp}: `{command}`  \nMachine: {record['machine']}\n\n"
        f"{markdown(figs)}\nSummary: `{summary}`\n{levers}\n"
    )
    page = args.output.read_text() if args.output.exists() else "# Benchmarks\n"
    before = page.split(LATEST)[0].rstrip()
    args.output.write_text(f"{before}\n\n{latest}")

"""`agi-app bench [--smoke]`: the load benchmark (see agi_app/tools/bench/sipp.py)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from agi_app.settings import get_settings
from agi_app.tools.bench.series import bench, concurrency_cap, levers
from agi_app.tools.bench.sipp import RunFigures, machine, markdown, to_json
from agi_app.tools.stack.lifecycle import start as stack_start


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("bench", help="SIPp load: native IVR vs the app")
    p.add_argument("--smoke", action="store_true", help="a few seconds of load (make test)")
    p.add_argument("--rates", default="40,80,100,120,140,160,180", help="calls/s, comma-separated")
    p.add_argument("--seconds", type=float, default=15, help="seconds of load per run")
    p.add_argument("--output", type=Path, help="append the results to this markdown file")
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


def _handle(args: argparse.Namespace) -> int:
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
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        with args.output.open("a") as fh:
            fh.write(
                f"\n## Load run {stamp}\n\nCommand: `make bench` (agi-app bench "
                f"--rates {args.rates} --seconds {seconds:g} --lever-rate {args.lever_rate:g}"
                f"{''.join(' --env ' + e for e in args.env)})  \nMachine: {machine()}, "
                f"concurrent-call cap {concurrency_cap(max(rates))} in the rate series\n\n"
            )
            levers_md = (
                f"\nLevers at {args.lever_rate:g} calls/s (the app alone, each lever off in "
                f"turn):\n\n{markdown(lever_figs)}"
                if lever_figs
                else ""
            )
            fh.write(
                table + f"\nSummary: `{summary}`\n{levers_md}\n<details><summary>JSON</summary>"
                f"\n\n```json\n{to_json(figs + lever_figs)}\n```\n</details>\n"
            )
    if args.smoke:
        return 0 if all(f.clean for f in figs) else 1
    return 0

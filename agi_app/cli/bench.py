"""`agi-app bench [--smoke]`: the load benchmark (see agi_app/bench.py)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import asyncpg

from agi_app.bench import AppHandle, RunFigures, machine, markdown, one_run, to_json
from agi_app.cli.stack import start as stack_start
from agi_app.settings import Settings, get_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("bench", help="SIPp load: native IVR vs the app")
    p.add_argument("--smoke", action="store_true", help="a few seconds of load (make test)")
    p.add_argument("--rates", default="40,80,100,120,140,160", help="calls/s, comma-separated")
    p.add_argument("--seconds", type=float, default=15, help="seconds of load per run")
    p.add_argument("--output", type=Path, help="append the results to this markdown file")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the app (e.g. AGI_APP_UVLOOP=0)",
    )
    p.set_defaults(handler=_handle)


async def _callers(s: Settings, n: int) -> list[str]:
    try:
        conn = await asyncpg.connect(s.pg_dsn)
        try:
            rows = await conn.fetch("SELECT number FROM customers ORDER BY number LIMIT $1", n)
        finally:
            await conn.close()
        found = [str(r["number"]).removeprefix("+86") for r in rows]
    except (OSError, asyncpg.PostgresError):
        found = []
    return found or [f"139{i:08d}" for i in range(n)]


async def bench(
    s: Settings, rates: list[float], seconds: float, env: dict[str, str], overload: bool
) -> tuple[list[RunFigures], dict[str, Any]]:
    """Alternate native and app runs at each rate; then the overload run."""
    callers = await _callers(s, 2000)
    figs: list[RunFigures] = []
    app = AppHandle(s, env)
    try:
        await app.wait_ready()
        with tempfile.TemporaryDirectory() as tmp:
            for rate in rates:
                for kind in ("native", "app"):
                    fig = await one_run(
                        s, kind, rate, seconds, callers, app if kind == "app" else None, Path(tmp)
                    )
                    figs.append(fig)
                    print(markdown([fig]).splitlines()[-1], flush=True)
            summary = summarise(figs)
            app.stop()
            if overload and summary["native_max_clean"]:
                # Admission control at the clean rate the app sustained; offer 1.3x native.
                limit = summary["app_max_clean"] or summary["native_max_clean"]
                app = AppHandle(s, {**env, "AGI_APP_MAX_CALLS_PER_SECOND": str(limit)})
                await app.wait_ready()
                rate = round(1.3 * summary["native_max_clean"])
                fig = await one_run(s, "app-overload", rate, seconds, callers, app, Path(tmp))
                figs.append(fig)
                print(markdown([fig]).splitlines()[-1], flush=True)
                summary["overload"] = overload_summary(fig, rate, limit)
    finally:
        app.stop()
    return figs, summary


def overload_summary(fig: RunFigures, rate: float, limit: float) -> dict[str, Any]:
    admitted = fig.calls - fig.refused
    return {
        "offered_rate": rate,
        "admission_rate_limit": limit,
        "calls": fig.calls,
        "refused_busy": fig.refused,
        "admitted": admitted,
        "admitted_completed": fig.ok,
        "admitted_completion_pct": round(100 * fig.ok / admitted, 2) if admitted else None,
    }


def summarise(figs: list[RunFigures]) -> dict[str, Any]:
    def max_clean(kind: str) -> float | None:
        clean = [f.rate for f in figs if f.kind == kind and f.clean]
        return max(clean) if clean else None

    native, app = max_clean("native"), max_clean("app")
    return {
        "native_max_clean": native,
        "app_max_clean": app,
        "ratio": round(app / native, 3) if app and native else None,
    }


def _handle(args: argparse.Namespace) -> int:
    s = get_settings()
    stack_start()
    rates = [5.0] if args.smoke else [float(r) for r in args.rates.split(",")]
    seconds = 3.0 if args.smoke else args.seconds
    env = dict(e.split("=", 1) for e in args.env)
    figs, summary = asyncio.run(bench(s, rates, seconds, env, overload=not args.smoke))
    table = markdown(figs)
    print(table)
    print(summary)
    if args.output:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        with args.output.open("a") as fh:
            fh.write(
                f"\n## Load run {stamp}\n\nCommand: `make bench` (agi-app bench "
                f"--rates {args.rates} --seconds {seconds:g}"
                f"{''.join(' --env ' + e for e in args.env)})  \nMachine: {machine()}\n\n"
            )
            fh.write(
                table + f"\nSummary: `{summary}`\n\n<details><summary>JSON</summary>\n\n"
                f"```json\n{to_json(figs)}\n```\n</details>\n"
            )
    if args.smoke:
        return 0 if all(f.clean for f in figs) else 1
    return 0

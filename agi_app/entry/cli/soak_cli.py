"""`agi-app bench soak`: its options and its handler (agi_app/tools/bench/soak.py)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
from pathlib import Path

from agi_app.settings import get_settings
from agi_app.tools.bench import soak_page
from agi_app.tools.bench.page import write_page
from agi_app.tools.bench.sipp import commit, machine
from agi_app.tools.bench.soak import soak
from agi_app.tools.bench.soak_figures import evaluate, passed, warmup_waves
from agi_app.tools.stack.lifecycle import start as stack_start


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=30, help="soak: minutes of load")
    p.add_argument("--rate", type=float, default=30, help="soak: calls/s")
    p.add_argument("--every", type=float, default=5, help="soak: minutes per wave (one row each)")
    p.add_argument(
        "--warmup", type=float, default=5, help="soak: minutes of warm-up (the baseline's end)"
    )


def handle(args: argparse.Namespace) -> int:
    """Run the soak; print a row per wave and a verdict per goal; exit 1 on a miss.
    With ``--output``: the page's soak block and one history line."""
    if args.minutes <= 0 or args.rate <= 0 or args.every <= 0:
        raise SystemExit("--minutes, --rate and --every must be positive")
    s = get_settings()
    stack_start()
    where = machine(s)
    with tempfile.TemporaryDirectory() as tmp:
        samples = asyncio.run(soak(s, args.minutes, args.rate, args.every, Path(tmp)))
    warmup = warmup_waves(args.warmup, args.every)
    goals = evaluate(samples, warmup)
    print("\n".join(soak_page.verdict_lines(goals)))
    if args.output:
        report = soak_page.SoakReport(
            stamp=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            commit=commit(),
            machine=where,
            command=(
                f"agi-app bench soak --minutes {args.minutes:g} --rate {args.rate:g}"
                f" --every {args.every:g} --warmup {args.warmup:g}"
            ),
            warmup=warmup,
            samples=samples,
            goals=goals,
        )
        block = soak_page.soak_block(report)
        write_page(
            args.output,
            soak_page.history_line(report),
            lambda text: soak_page.replace_soak_block(text, block),
        )
    return 0 if passed(goals) else 1

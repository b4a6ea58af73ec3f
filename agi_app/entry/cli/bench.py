"""`agi-app bench [--smoke | --profile MODE]`: the load benchmark.

See agi_app/tools/bench/ (sipp.py one run, series.py the series, targets.py
the targets, page.py the page and history, profile.py the profile run).

`agi-app bench journeys [--seconds N]`: sustained journey writes into the
partitioned tables, against the 10086 peak (agi_app/tools/bench/journeys.py).

`agi-app bench cluster`: a 2-node cluster, direct vs via Kamailio, then failover
(agi_app/tools/bench/cluster.py).

`agi-app bench soak [--minutes 30] [--rate 30] [--every 5] [--warmup 5]`: a long
run through the demo flows, a row every few minutes, exit 1 on a missed goal
(agi_app/tools/bench/soak.py; `soak_cli` here).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from agi_app.entry.cli import soak_cli
from agi_app.settings import get_settings
from agi_app.tools.bench import cluster, cluster_figures, cluster_page
from agi_app.tools.bench.figures import RunFigures
from agi_app.tools.bench.journeys import bench_journeys, peak_need
from agi_app.tools.bench.journeys import render as render_journeys
from agi_app.tools.bench.page import (
    Report,
    cpu_table,
    history_line,
    latest_block,
    rate_table,
    replace_block,
    targets_table,
    write_page,
)
from agi_app.tools.bench.profile import profile
from agi_app.tools.bench.series import bench, concurrency_cap, levers
from agi_app.tools.bench.sipp import commit, machine
from agi_app.tools.bench.targets import evaluate
from agi_app.tools.stack import kamailio, postgres
from agi_app.tools.stack.lifecycle import start as stack_start
from agi_app.tools.stack.shell import StackError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "bench", help="SIPp load: native IVR vs the app; or `bench journeys`: journey writes"
    )
    p.add_argument(
        "kind",
        nargs="?",
        choices=["calls", "journeys", "cluster", "soak"],
        default="calls",
        help="calls (default): SIPp load on the stack; journeys: sustained journey writes"
        " into PostgreSQL (a scratch database) for --seconds; cluster: a 2-node cluster,"
        " direct vs via Kamailio (--repeats pairs), then failover; soak: --minutes at --rate"
        " through the demo flows, a row every --every minutes",
    )
    p.add_argument("--smoke", action="store_true", help="one short run per mode (make test)")
    p.add_argument("--rates", default="40,80,100,120,140,160,180", help="calls/s, comma-separated")
    p.add_argument("--seconds", type=float, default=15, help="seconds of load per run")
    p.add_argument(
        "--repeats", type=int, default=3, help="native/app pairs per rate (figures are medians)"
    )
    p.add_argument("--output", type=Path, help="write the latest run into this markdown page")
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
    p.add_argument("--no-overload", action="store_true", help="skip the overload runs")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the app (e.g. AGI_APP_UVLOOP=0)",
    )
    p.add_argument(
        "--profile",
        choices=("app", "native"),
        help="instead: one rate in one mode with perf, taskprocessor counts, ARI counts, py-spy",
    )
    p.add_argument("--profile-rate", type=float, default=100, help="calls/s of --profile")
    p.add_argument("--profile-seconds", type=float, default=20, help="seconds of --profile")
    p.add_argument("--cluster-rate", type=float, default=30, help="calls/s of `bench cluster`")
    p.add_argument(
        "--cluster-seconds", type=float, default=20, help="seconds per `bench cluster` step"
    )
    p.add_argument(
        "--failover-seconds", type=float, default=12, help="seconds of the failover run; 0: none"
    )
    p.add_argument("--kill-after", type=float, default=4, help="seconds into it, kill -9 ivr2")
    soak_cli.add_arguments(p)
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
    print(render_journeys(result, peak_need(), machine(s)))
    return 0


def _handle(args: argparse.Namespace) -> int:
    if args.kind == "journeys":
        return _journeys(args)
    if args.kind == "cluster":
        return _handle_cluster(args)
    if args.kind == "soak":
        return soak_cli.handle(args)
    s = get_settings()
    stack_start()
    env = dict(e.split("=", 1) for e in args.env)
    if args.profile:
        path = asyncio.run(
            profile(
                s, args.profile, args.profile_rate, args.profile_seconds, env, s.var_dir / "bench"
            )
        )
        print(path.read_text())
        print(f"Written to {path} (raw data beside it)")
        return 0
    rates = [5.0] if args.smoke else [float(r) for r in args.rates.split(",")]
    seconds = 3.0 if args.smoke else args.seconds
    repeats = 1 if args.smoke else max(1, args.repeats)
    overload = not (args.smoke or args.no_overload)
    where = f"{machine(s)}, concurrent-call cap {concurrency_cap(max(rates))}"
    series = asyncio.run(bench(s, rates, seconds, env, overload, repeats))
    lever_figs: list[RunFigures] = []
    if not args.smoke and args.lever_rate > 0:
        lever_figs = asyncio.run(levers(s, args.lever_rate, seconds, env))
    targets = evaluate(series.figs, series.overload)
    print(f"\n{rate_table(series.figs)}\n{cpu_table(series.figs)}\n{targets_table(targets)}")
    if args.output:
        report = Report(
            stamp=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            commit=commit(),
            machine=where,
            command=_command(args, seconds, repeats),
            figs=series.figs,
            targets=targets,
            overload=series.overload,
            admission=series.admission,
            levers=lever_figs,
        )
        record(args.output, report)
    if args.smoke:
        return 0 if all(f.clean for f in series.figs) else 1
    return 0


def _command(args: argparse.Namespace, seconds: float, repeats: int) -> str:
    return (
        f"agi-app bench --rates {args.rates} --seconds {seconds:g} --repeats {repeats} "
        f"--lever-rate {args.lever_rate:g}{' --no-overload' if args.no_overload else ''}"
        f"{''.join(' --env ' + e for e in args.env)}"
    )


def record(page: Path, report: Report) -> None:
    """The page's latest-run block replaced; one line appended to the history
    (``bench-history.jsonl`` beside the page)."""
    write_page(page, history_line(report), lambda text: replace_block(text, latest_block(report)))


def _handle_cluster(args: argparse.Namespace) -> int:
    """The cluster run (the single-node stack must be stopped: Kamailio takes its
    SIP port)."""
    s = get_settings()
    if not kamailio.port_free(s):
        raise StackError(f"{s.bind_address}:{s.sip_port} is taken: `agi-app stack stop` first")
    repeats = max(1, args.repeats)
    where = machine(s)
    with tempfile.TemporaryDirectory() as tmp:
        steps, fail = asyncio.run(
            cluster.run(
                s,
                args.cluster_rate,
                args.cluster_seconds,
                repeats,
                args.failover_seconds,
                args.kill_after,
                Path(tmp),
            )
        )
    report = cluster_page.ClusterReport(
        stamp=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=commit(),
        machine=where,
        command=(
            f"agi-app bench cluster --cluster-rate {args.cluster_rate:g} --cluster-seconds "
            f"{args.cluster_seconds:g} --repeats {repeats} --failover-seconds "
            f"{args.failover_seconds:g} --kill-after {args.kill_after:g}"
        ),
        steps=steps,
        failover=fail,
        targets=cluster_figures.evaluate(steps, fail),
    )
    print("\n" + cluster_page.cluster_block(report))
    if args.output:
        block = cluster_page.cluster_block(report)
        write_page(
            args.output,
            cluster_page.history_line(report),
            lambda text: cluster_page.replace_cluster_block(text, block),
        )
    return 0

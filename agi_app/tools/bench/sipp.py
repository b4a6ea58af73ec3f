"""`make bench`: SIPp load against the real stack, native dialplan IVR as the baseline.

Each run places a bounded number of calls at one rate and stops by itself. A
call counts as successful only when its BYE carries the expected Q.850 cause.
Native (8000) and application (the demo flow, number 100) runs alternate at
every rate so both see the same machine state.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncpg

from agi_app.settings import PROJECT_ROOT, Settings
from agi_app.tools.appproc import AppProcess
from agi_app.tools.bench import pgroles, procstat
from agi_app.tools.bench.figures import RunFigures
from agi_app.tools.qa.runner import SippResult, run_callers
from agi_app.tools.qa.scenario import build_caller, parse_keys
from agi_app.tools.stack import asterisk, postgres

NATIVE_NUMBER = "8000"
APP_NUMBER = "100"
KEYS = "wait 1; 1"  # the digit lands during the greeting: barge-in, announcement, BYE 16


def calibrate() -> tuple[float, float]:
    """Milliseconds of a fixed CPU-bound job (hashing + a Python loop): wall time
    and CPU time. On a shared machine the wall time also counts the wait for a
    CPU behind others' work; the CPU time only how fast the CPU ran the job
    (caches and cores shared with others), the same way the per-call CPU is."""
    t0, c0 = time.perf_counter(), time.process_time()
    block = b"x" * (1 << 20)
    for _ in range(100):
        hashlib.sha256(block).digest()
    total = 0
    for i in range(1_000_000):
        total += i
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return round(wall * 1000, 1), round(cpu * 1000, 1)


def rss_mb(pid: int) -> float:
    return (procstat.rss_kb(pid) or 0) / 1024


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 1)


async def bench_callers(s: Settings, n: int = 2000) -> list[str]:
    """Caller numbers for the runs: demo customers (so lookups hit), else made up."""
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


def process_roots(s: Settings, app: AppProcess | None) -> dict[str, int | None]:
    """The root pid of each process group the bench measures (procstat.groups)."""
    return {
        "asterisk": asterisk.pid(s.asterisk_root),
        "app": app.proc.pid if app and app.proc and app.proc.poll() is None else None,
        "postgres": procstat.postmaster_pid(postgres.cluster_dir(s) / "data"),
    }


async def pg_sessions(
    s: Settings,
    before: dict[int, procstat.ProcTimes],
    after: dict[int, procstat.ProcTimes],
    postmaster: int | None,
    calls: int,
) -> dict[str, float]:
    """PostgreSQL's CPU ms per call by who spent it (bench.pgroles); {} when unknown."""
    if postmaster is None:
        return {}
    try:
        roles = await pgroles.session_roles(s.pg_dsn)
    except (OSError, asyncpg.PostgresError):
        roles = {}  # every process then counts as PostgreSQL's own or other
    spent = pgroles.buckets(pgroles.cpu_by_role(before, after, postmaster, roles))
    return {who: round(1000 * sec / max(1, calls), 3) for who, sec in spent.items()}


async def _journeys_written(app: AppProcess, timeout_s: float = 3.0) -> None:
    """Wait (briefly) until the app has written the run's journeys, so the step's
    PostgreSQL and app CPU includes the last batch."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stats = await app.metrics()
        if not stats.get("journeys_pending"):
            return
        await asyncio.sleep(0.1)


async def one_run(
    s: Settings,
    kind: str,
    rate: float,
    seconds: float,
    callers: list[str],
    app: AppProcess | None,
    workdir: Path,
    rep: int = 0,
) -> RunFigures:
    """Place rate*seconds calls at ``rate`` to the native IVR (kind ``native``; the
    app, if running, idles beside it) or to ``app``; CPU per call of every group."""
    calls = max(1, int(rate * seconds))
    roots = process_roots(s, app)
    if kind == "native":
        app = None
    calib, calib_cpu = calibrate()
    load = round(os.getloadavg()[0], 2)
    scenario = build_caller(
        parse_keys(KEYS), workdir / f"{kind}-{rate:g}", expect_cause=16, early_bye=False
    )
    ast_log = s.asterisk_root / "var/log/asterisk/messages.log"
    log0 = ast_log.stat().st_size if ast_log.exists() else 0
    if app:
        await app.metrics(reset=True)
    table0 = procstat.process_table()
    cpu0, wall0 = procstat.groups(roots, table0), time.monotonic()
    who = (callers * (calls // max(1, len(callers)) + 1))[:calls]
    result: SippResult = await run_callers(
        scenario,
        service=NATIVE_NUMBER if kind == "native" else APP_NUMBER,
        callers=who,
        calls=calls,
        rate=rate,
        limit=max(600, int(rate * 8)),
        timeout_s=seconds + 60,
    )
    wall = time.monotonic() - wall0
    if app:
        await _journeys_written(app)
    table1 = procstat.process_table()
    cpu = procstat.per_call_ms(cpu0, procstat.groups(roots, table1), calls)
    if not app and "app" in cpu:
        cpu["app_idle"] = cpu.pop("app")  # not part of a native call's cost
    fig = RunFigures(
        kind=kind,
        rate=rate,
        calls=calls,
        ok=result.successful,
        failed=result.failed,
        retrans=result.retransmissions,
        invite_p50_ms=pct(result.rtd.get("1", []), 0.5),
        invite_p99_ms=pct(result.rtd.get("1", []), 0.99),
        dtmf_bye_p50_ms=pct(result.rtd.get("2", []), 0.5),
        dtmf_bye_p99_ms=pct(result.rtd.get("2", []), 0.99),
        asterisk_cpu_pct=round(0.1 * cpu.get("asterisk", 0.0) * calls / wall, 1),
        calib_ms=calib,
        calib_cpu_ms=calib_cpu,
        rep=rep,
        cpu_ms_per_call=cpu,
        load_avg=load,
    )
    if app and app.proc:
        m = await app.metrics()
        timings = m.get("timings", {})
        fig.app_cpu_ms_per_call = cpu.get("app")
        fig.app_rss_mb = round(rss_mb(app.proc.pid), 1)
        fig.lookup_p99_ms = _p99(timings, "lookup_ms")
        fig.dtmf_play_p99_ms = _p99(timings, "dtmf_to_play_ms")
        fig.loop_lag_p99_ms = _p99(timings, "loop_lag_ms")
        # Refused by the app (over ARI) and by the dialplan before Stasis (full house).
        fig.refused = int(m.get("counters", {}).get("calls_refused", 0)) + dialplan_refusals(
            ast_log, log0
        )
        fig.pg_ms_per_call = await pg_sessions(s, table0, table1, roots.get("postgres"), calls)
    return fig


def dialplan_refusals(ast_log: Path, offset: int) -> int:
    """Calls dialplan/10-hotline.conf refused since ``offset`` of Asterisk's log."""
    try:
        with ast_log.open("rb") as fh:
            fh.seek(offset)
            return fh.read().count(b"hotline full: refused")
    except OSError:
        return 0


def _p99(timings: dict[str, Any], name: str) -> float | None:
    value = timings.get(name, {}).get("p99")
    return None if value is None else round(float(value), 2)


def machine(s: Settings) -> str:
    """One line naming the machine and the software measured."""
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    version = asterisk.asterisk_version(s.asterisk_root) or "Asterisk ?"
    return (
        f"{os.cpu_count()} cores ({cpu}), {version}, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )


def commit() -> str:
    """The checkout's commit (``+dirty`` with uncommitted changes)."""
    proc = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "describe", "--always", "--dirty=+dirty", "--abbrev=10"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "unknown"

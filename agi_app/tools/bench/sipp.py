"""`make bench`: SIPp load against the real stack, native dialplan IVR as the baseline.

Each run places a bounded number of calls at one rate and stops by itself. A
call counts as successful only when its BYE carries the expected Q.850 cause.
Native (8000) and application (the demo flow, number 100) runs alternate at
every rate so both see the same machine state.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agi_app.settings import Settings
from agi_app.tools.appproc import AppProcess
from agi_app.tools.qa.runner import SippResult, run_callers
from agi_app.tools.qa.scenario import build_caller, parse_keys
from agi_app.tools.stack import asterisk

NATIVE_NUMBER = "8000"
APP_NUMBER = "100"
KEYS = "wait 1; 1"  # the digit lands during the greeting: barge-in, announcement, BYE 16
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class RunFigures:
    kind: str
    rate: float
    calls: int
    ok: int
    failed: int
    retrans: int
    invite_p50_ms: float | None
    invite_p99_ms: float | None
    dtmf_bye_p50_ms: float | None
    dtmf_bye_p99_ms: float | None
    asterisk_cpu_pct: float
    app_cpu_ms_per_call: float | None = None
    app_rss_mb: float | None = None
    lookup_p99_ms: float | None = None
    dtmf_play_p99_ms: float | None = None
    loop_lag_p99_ms: float | None = None
    refused: int = 0
    calib_ms: float | None = None  # CPU speed of the machine just before the run

    @property
    def clean(self) -> bool:
        return self.failed == 0 and self.retrans == 0 and self.ok == self.calls


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def calibrate() -> float:
    """Milliseconds of a fixed CPU-bound job (hashing + a Python loop), run on an
    idle stack: how fast this (shared, virtual) machine is at that moment."""
    t0 = time.perf_counter()
    block = b"x" * (1 << 20)
    for _ in range(100):
        hashlib.sha256(block).digest()
    total = 0
    for i in range(1_000_000):
        total += i
    return round((time.perf_counter() - t0) * 1000, 1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 1)


async def one_run(
    s: Settings,
    kind: str,
    rate: float,
    seconds: float,
    callers: list[str],
    app: AppProcess | None,
    workdir: Path,
) -> RunFigures:
    """Place rate*seconds calls at ``rate`` to the native IVR or the app."""
    calls = max(1, int(rate * seconds))
    calib = calibrate()
    scenario = build_caller(parse_keys(KEYS), workdir / f"{kind}-{rate:g}", expect_cause=16)
    ast_pid = asterisk.pid(s.asterisk_root) or 0
    ast_log = s.asterisk_root / "var/log/asterisk/messages.log"
    log0 = ast_log.stat().st_size if ast_log.exists() else 0
    ast0, wall0 = cpu_seconds(ast_pid), time.monotonic()
    app0 = cpu_seconds(app.proc.pid) if app and app.proc else 0.0
    if app:
        await app.metrics(reset=True)
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
        asterisk_cpu_pct=round(100 * (cpu_seconds(ast_pid) - ast0) / wall, 1),
        calib_ms=calib,
    )
    if app and app.proc:
        m = await app.metrics()
        timings = m.get("timings", {})
        fig.app_cpu_ms_per_call = round(1000 * (cpu_seconds(app.proc.pid) - app0) / calls, 2)
        fig.app_rss_mb = round(rss_mb(app.proc.pid), 1)
        fig.lookup_p99_ms = _p99(timings, "lookup_ms")
        fig.dtmf_play_p99_ms = _p99(timings, "dtmf_to_play_ms")
        fig.loop_lag_p99_ms = _p99(timings, "loop_lag_ms")
        # Refused by the app (over ARI) and by the dialplan before Stasis (full house).
        fig.refused = int(m.get("counters", {}).get("calls_refused", 0)) + dialplan_refusals(
            ast_log, log0
        )
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


def markdown(figs: list[RunFigures]) -> str:
    head = (
        "| kind | rate/s | calls | ok | failed | retrans | INVITE→200 p50/p99 ms | "
        "DTMF→BYE p50/p99 ms | Asterisk CPU % | app CPU ms/call | app RSS MB | "
        "lookup p99 ms | DTMF→play p99 ms | loop lag p99 ms | refused | calib ms |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for f in figs:
        rows.append(
            f"| {f.kind} | {f.rate:g} | {f.calls} | {f.ok} | {f.failed} | {f.retrans} | "
            f"{f.invite_p50_ms}/{f.invite_p99_ms} | {f.dtmf_bye_p50_ms}/{f.dtmf_bye_p99_ms} | "
            f"{f.asterisk_cpu_pct} | {_d(f.app_cpu_ms_per_call)} | {_d(f.app_rss_mb)} | "
            f"{_d(f.lookup_p99_ms)} | {_d(f.dtmf_play_p99_ms)} | {_d(f.loop_lag_p99_ms)} | "
            f"{f.refused if f.kind != 'native' else '-'} | {_d(f.calib_ms)} |"
        )
    return head + "\n".join(rows) + "\n"


def _d(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def machine() -> str:
    cores = os.cpu_count()
    return f"{platform.machine()}, {cores} cores, Python {platform.python_version()}"

"""`agi-app bench --profile MODE`: one fixed rate in one mode, with the profilers on.

While SIPp places the calls (100 calls/s for 20 s by default) it records:

(a) ``perf record -g`` on the Asterisk process (hardware cycles where the
    machine counts them, else the ``cpu-clock`` software event; skipped with a
    message when perf cannot record at all);
(b) ``core show taskprocessors`` before and after: messages processed per
    taskprocessor family, per call;
(c) in app mode, the ARI requests (by route) and messages received (by type)
    per call, from the app's ``/admin/stats``;
(d) in app mode, py-spy on the app process;
(e) PostgreSQL's CPU per call by session, as every app run of the bench
    measures it (bench.pgroles).

The top items go to ``var/bench/profile-MODE-RATE-STAMP.md``, the raw data
(perf.data, py-spy's collapsed stacks) beside it. The profilers cost CPU of
their own: the CPU per call of this run is not a bench figure.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from agi_app.settings import Settings
from agi_app.tools.bench import profparse as pp
from agi_app.tools.bench.figures import RunFigures
from agi_app.tools.bench.page import run_line
from agi_app.tools.bench.series import concurrency_cap, launch_app
from agi_app.tools.bench.sipp import bench_callers, one_run
from agi_app.tools.stack import asterisk


@dataclass
class Recorder:
    """One profiler process, stopped with SIGINT (both write their output then)."""

    name: str
    argv: list[str]
    note: str = ""
    proc: asyncio.subprocess.Process | None = None
    output: str = ""

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )

    async def stop(self, timeout_s: float = 60) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(timeout_s):
                out, _ = await self.proc.communicate()
        except TimeoutError:
            self.proc.kill()
            out, _ = await self.proc.communicate()
        self.output = out.decode(errors="replace")[-2000:]


def perf_event() -> tuple[str | None, str]:
    """The event ``perf record`` can sample here, and why (None: perf cannot)."""
    if shutil.which("perf") is None:
        return None, "perf is not installed (Debian: linux-perf)"
    hw = subprocess.run(
        ["perf", "stat", "-e", "instructions", "true"], capture_output=True, text=True, check=False
    )
    if pp.hardware_events(hw.stderr + hw.stdout, hw.returncode):
        return "cycles", "hardware events (cycles)"
    sw = subprocess.run(
        ["perf", "stat", "-e", "cpu-clock", "true"], capture_output=True, text=True, check=False
    )
    if sw.returncode == 0:
        return "cpu-clock", "no hardware events here (a VM without a PMU): software cpu-clock"
    return None, f"perf cannot count here: {sw.stderr.strip()[:200]}"


def py_spy() -> str | None:
    """py-spy beside this Python (the project's venv), else on PATH."""
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


@dataclass
class Profile:
    mode: str
    rate: float
    fig: RunFigures | None = None
    perf_note: str = ""
    perf_symbols: list[tuple[float, str]] = field(default_factory=list)
    perf_dsos: list[tuple[float, str]] = field(default_factory=list)
    app_perf_symbols: list[tuple[float, str]] = field(default_factory=list)
    app_perf_dsos: list[tuple[float, str]] = field(default_factory=list)
    taskprocessors: list[pp.FamilyCount] = field(default_factory=list)
    ari_requests: list[tuple[str, float]] = field(default_factory=list)
    ari_messages: list[tuple[str, float]] = field(default_factory=list)
    pyspy_note: str = ""
    pyspy: pp.StackTop | None = None


async def profile(
    s: Settings, mode: str, rate: float, seconds: float, env: dict[str, str], out_dir: Path
) -> Path:
    """Run the profile (see the module docstring); the path of the summary file."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / f"profile-{mode}-{rate:g}-{stamp}"
    result = Profile(mode, rate)
    callers = await bench_callers(s)
    app = launch_app(s, {"AGI_APP_MAX_CONCURRENT_CALLS": str(concurrency_cap(rate)), **env})
    recorders: list[Recorder] = []
    try:
        await app.wait_ready_async()
        ast_pid = asterisk.pid(s.asterisk_root)
        if ast_pid is None:
            raise RuntimeError("Asterisk is not running")
        recorders = _recorders(result, ast_pid, app.proc.pid if app.proc else None, base)
        tp0 = pp.parse_taskprocessors(asterisk.cli(s.asterisk_root, "core show taskprocessors"))
        stats0 = await app.metrics()
        for rec in recorders:
            await rec.start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                result.fig = await one_run(s, mode, rate, seconds, callers, app, Path(tmp))
        finally:
            for rec in recorders:
                await rec.stop()
        print(run_line(result.fig), flush=True)
        tp1 = pp.parse_taskprocessors(asterisk.cli(s.asterisk_root, "core show taskprocessors"))
        result.taskprocessors = pp.taskprocessor_delta(tp0, tp1)
        if mode == "app":
            _ari_counts(result, stats0, await app.metrics())
    finally:
        app.stop()
    _read_outputs(result, base, recorders)
    path = base.with_suffix(".md")
    path.write_text(render(result))
    return path


def _recorders(result: Profile, ast_pid: int, app_pid: int | None, base: Path) -> list[Recorder]:
    recorders = []
    event, result.perf_note = perf_event()
    if event:
        data = f"{base}-asterisk.perf.data"
        argv = ["perf", "record", "-e", event, "-F", "499", "-g", "-p", str(ast_pid), "-o", data]
        recorders.append(Recorder("perf", argv))
        if result.mode == "app" and app_pid is not None:
            data = f"{base}-app.perf.data"
            argv = ["perf", "record", "-e", event, "-F", "499", "-p", str(app_pid), "-o", data]
            recorders.append(Recorder("perf-app", argv))
    spy = py_spy()
    if result.mode != "app":
        result.pyspy_note = "native mode: no app on the call path"
    elif spy is None:
        result.pyspy_note = "py-spy is not installed (`make venv` installs the dev extras)"
    elif app_pid is not None:
        raw = f"{base}-app.pyspy.txt"
        argv = [spy, "record", "-p", str(app_pid), "-r", "200", "-f", "raw", "-o", raw]
        recorders.append(Recorder("py-spy", [*argv, "--nonblocking"]))
    return recorders


def _ari_counts(result: Profile, before: dict[str, object], after: dict[str, object]) -> None:
    calls = result.fig.calls if result.fig else 1

    def counts(stats: dict[str, object], *keys: str) -> dict[str, int]:
        value: object = stats
        for key in keys:
            value = value.get(key, {}) if isinstance(value, dict) else {}
        if not isinstance(value, dict):
            return {}
        return {str(k): int(v) for k, v in value.items() if isinstance(v, int)}

    requests = pp.counter_delta(
        counts(before, "ari_requests", "by_route"), counts(after, "ari_requests", "by_route")
    )
    messages = pp.counter_delta(counts(before, "ari_messages"), counts(after, "ari_messages"))
    ways = ("websocket", "http")
    for way, n in pp.counter_delta(
        {w: v for w, v in counts(before, "ari_requests").items() if w in ways},
        {w: v for w, v in counts(after, "ari_requests").items() if w in ways},
    ).items():
        requests[f"(all requests over {way})"] = n
    result.ari_requests = pp.per_call(requests, calls)
    result.ari_messages = pp.per_call(messages, calls)


def _read_outputs(result: Profile, base: Path, recorders: list[Recorder]) -> None:
    for rec in recorders:
        if rec.name == "perf":
            result.perf_dsos, result.perf_symbols = _perf_report(f"{base}-asterisk.perf.data")
            if not result.perf_symbols:
                result.perf_note += f"; perf recorded nothing: {rec.output.strip()[-300:]}"
        if rec.name == "perf-app":
            result.app_perf_dsos, result.app_perf_symbols = _perf_report(f"{base}-app.perf.data")
        if rec.name == "py-spy":
            raw = Path(f"{base}-app.pyspy.txt")
            if raw.exists():
                result.pyspy = pp.collapsed_top(raw.read_text())
            else:
                result.pyspy_note = f"py-spy wrote nothing: {rec.output.strip()[-300:]}"


def _perf_report(data: str) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """perf's top shared objects and top symbols of one recording."""
    report = ["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none"]
    rows = []
    for sort in ("dso", "dso,sym"):
        out = subprocess.run(
            [*report, "--sort", sort], capture_output=True, text=True, check=False
        ).stdout
        rows.append(pp.perf_rows(out))
    return rows[0], rows[1]


def render(p: Profile) -> str:
    """The summary file: markdown, top items of each profiler."""
    calls = p.fig.calls if p.fig else 0
    lines = [f"# Profile: {p.mode} at {p.rate:g} calls/s ({calls} calls)", ""]
    if p.fig:
        lines += [f"Run: {run_line(p.fig)} (profilers on: CPU is inflated)", ""]
    lines += ["## Asterisk taskprocessors: messages per call", ""]
    lines += ["| family | instances | per call |", "|---|---|---|"]
    lines += [
        f"| {t.family} | {t.instances} | {t.processed / max(1, calls):.2f} |"
        for t in p.taskprocessors[:25]
    ]
    lines += ["", "Channels' own taskprocessors are gone before the second read: not counted.", ""]
    if p.mode == "app":
        lines += ["## ARI per call", "", "| requests (route) | per call |", "|---|---|"]
        lines += [f"| {k} | {v:g} |" for k, v in p.ari_requests]
        lines += ["", "| messages received (type) | per call |", "|---|---|"]
        lines += [f"| {k} | {v:g} |" for k, v in p.ari_messages] + [""]
    if p.fig and p.fig.pg_ms_per_call:
        lines += [
            "## PostgreSQL CPU per call, by session",
            "",
            "| who | ms per call |",
            "|---|---|",
        ]
        pg = sorted(p.fig.pg_ms_per_call.items(), key=lambda r: -r[1])
        lines += [f"| {who} | {ms:.3f} |" for who, ms in pg] + [""]
    lines += [f"## perf on Asterisk ({p.perf_note})", ""]
    lines += [f"    {pct:6.2f}%  {what}" for pct, what in p.perf_dsos[:12]] + [""]
    lines += [f"    {pct:6.2f}%  {what}" for pct, what in p.perf_symbols] + [""]
    if p.app_perf_dsos:
        lines += ["## perf on the app (kernel, interpreter and C extensions)", ""]
        lines += [f"    {pct:6.2f}%  {what}" for pct, what in p.app_perf_dsos[:12]] + [""]
        lines += [f"    {pct:6.2f}%  {what}" for pct, what in p.app_perf_symbols] + [""]
    lines += ["## py-spy on the app", ""]
    if p.pyspy is None:
        lines.append(p.pyspy_note or "not run")
    else:
        n = max(1, p.pyspy.samples)
        lines += [f"{p.pyspy.samples} samples (active only). Own time:", ""]
        lines += [f"    {100 * k / n:6.2f}%  {f}" for f, k in p.pyspy.own]
        lines += ["", "On the stack (inclusive):", ""]
        lines += [f"    {100 * k / n:6.2f}%  {f}" for f, k in p.pyspy.total]
    return "\n".join(lines) + "\n"

"""The bench series: native and app interleaved at each rate (several times), the
overload runs, and one run per lever (each switched off in turn). `agi-app bench`
runs them."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agi_app.settings import Settings
from agi_app.tools.appproc import AppProcess
from agi_app.tools.bench.figures import RunFigures
from agi_app.tools.bench.floor import FloorProcess
from agi_app.tools.bench.page import run_line
from agi_app.tools.bench.sipp import bench_callers, one_run
from agi_app.tools.bench.stats import max_clean_spread
from agi_app.tools.stack import asterisk
from agi_app.tools.stack.lifecycle import start as stack_start


def launch_app(s: Settings, env: dict[str, str], floor: bool = False) -> AppProcess:
    log = s.var_dir / "log" / ("floor-bench.log" if floor else "app-bench.log")
    app = FloorProcess(s, log, env) if floor else AppProcess(s, log, env)
    app.launch()
    return app


@dataclass
class Series:
    """What ``bench`` measured: the interleaved runs, the overload runs and the
    admission settings of the overload."""

    figs: list[RunFigures] = field(default_factory=list)
    overload: list[RunFigures] = field(default_factory=list)
    admission: dict[str, Any] = field(default_factory=dict)


async def bench(
    s: Settings,
    rates: list[float],
    seconds: float,
    env: dict[str, str],
    overload: bool,
    repeats: int = 3,
) -> Series:
    """At each rate, native and app interleaved ``repeats`` times (native, app,
    native, app, ...); then the overload run, ``repeats`` times."""
    callers = await bench_callers(s)
    out = Series()
    # Calls last about 3.5 s: size the concurrent-call cap so it never refuses a
    # call in the rate series (the overload run tests admission control).
    env = {"AGI_APP_MAX_CONCURRENT_CALLS": str(concurrency_cap(max(rates))), **env}
    app = launch_app(s, env)
    try:
        await app.wait_ready_async()
        with tempfile.TemporaryDirectory() as tmp:
            for rate in rates:
                for rep in range(repeats):
                    for kind in ("native", "app"):
                        fig = await one_run(s, kind, rate, seconds, callers, app, Path(tmp), rep)
                        out.figs.append(fig)
                        print(run_line(fig), flush=True)
            app.stop()
            native_max = max_clean_spread(out.figs, "native")
            if overload and native_max:
                await _overload(s, env, out, native_max.median, seconds, callers, repeats)
    finally:
        app.stop()
    return out


async def _overload(
    s: Settings,
    env: dict[str, str],
    out: Series,
    native_max: float,
    seconds: float,
    callers: list[str],
    repeats: int,
) -> None:
    """Offer 1.3x the native maximum to the app with admission control sized to
    the clean rate the app sustained: a concurrent-call cap of that rate x the
    call's length (refused in the dialplan, cheaply) and a rate limit 20 % above
    it for bursts (refused by the app)."""
    app_max = max_clean_spread(out.figs, "app")
    limit = app_max.median if app_max else native_max
    cap, per_s = max(1, int(limit * CALL_SECONDS)), round(1.2 * limit, 1)
    out.admission = {"concurrent_cap": cap, "rate_limit": per_s}
    app = launch_app(
        s,
        {
            **env,
            "AGI_APP_MAX_CONCURRENT_CALLS": str(cap),
            "AGI_APP_MAX_CALLS_PER_SECOND": str(per_s),
        },
    )
    rate = round(1.3 * native_max)
    try:
        await app.wait_ready_async()
        with tempfile.TemporaryDirectory() as tmp:
            for rep in range(repeats):
                fig = await one_run(s, "app-overload", rate, seconds, callers, app, Path(tmp), rep)
                out.overload.append(fig)
                print(run_line(fig), flush=True)
    finally:
        app.stop()


CALL_SECONDS = 3.5  # the bench call: answer, greeting, digit, announcement, hang-up


def concurrency_cap(top_rate: float) -> int:
    return max(400, int(top_rate * 8))


# The cheap levers, each turned off in turn (then all of them) at one rate.
# G711 is not an app setting: for that run the .ulaw/.alaw prompt files are
# moved aside, so Asterisk transcodes the 8 kHz wav for every frame it plays.
# Asterisk's own levers (ASTERISK_LEVERS) restart it with that setting for the
# run, then again as it was.
G711 = "prompts as wav (transcoded)"
# Not a lever: the same ARI messages from a bare client (tools/bench/floor.py),
# no lookup, journey or flow. The app's CPU per call less this row's is what
# those layers cost.
FLOOR = "floor: a bare ARI client, same messages, no lookup/journey/flow"
CDR = "Asterisk CDR on (CSV)"
DECLINE = "stasis messages not declined"
ASTERISK_LEVERS: dict[str, dict[str, Any]] = {
    CDR: {"asterisk_cdr": True},
    DECLINE: {"asterisk_decline_messages": False},
}
APP_LEVERS_OFF = {
    "AGI_APP_UVLOOP": "0",
    "AGI_APP_ORJSON": "0",
    "AGI_APP_ARI_REST_OVER_WS": "0",
    "AGI_APP_ARI_EVENT_FILTER": "0",
    "AGI_APP_REALTIME_PRIORITY": "0",
    "AGI_APP_PG_LOOKUP_REALTIME_PRIORITY": "0",
    "AGI_APP_ARI_ANSWER_IN_DIALPLAN": "0",
    "AGI_APP_GC_TUNE": "0",
    "AGI_APP_LOOKUP_JOINT": "0",
    "AGI_APP_ARI_WS_CLIENT": "aiohttp",
}
LEVERS: list[tuple[str, dict[str, str]]] = [
    ("all levers on", {}),
    ("uvloop off", {"AGI_APP_UVLOOP": "0"}),
    ("orjson off (json)", {"AGI_APP_ORJSON": "0"}),
    ("REST over HTTP", {"AGI_APP_ARI_REST_OVER_WS": "0"}),
    ("event filter off", {"AGI_APP_ARI_EVENT_FILTER": "0"}),
    ("ChannelVarset in the filter", {"AGI_APP_ARI_VARSET_EVENTS": "1"}),
    ("the app answers (POST answer)", {"AGI_APP_ARI_ANSWER_IN_DIALPLAN": "0"}),
    ("websocket max waiting 16 (HTTP sooner)", {"AGI_APP_ARI_WS_MAX_WAITING": "16"}),
    ("websocket by aiohttp (not picows)", {"AGI_APP_ARI_WS_CLIENT": "aiohttp"}),
    ("real-time priority off", {"AGI_APP_REALTIME_PRIORITY": "0"}),
    ("lookup sessions at normal priority", {"AGI_APP_PG_LOOKUP_REALTIME_PRIORITY": "0"}),
    ("gc not tuned (Python's defaults)", {"AGI_APP_GC_TUNE": "0"}),
    ("lookup and risk history as two queries", {"AGI_APP_LOOKUP_JOINT": "0"}),
    ("a log line per call", {"AGI_APP_LOG_CALLS": "1"}),
    (G711, {}),
    (CDR, {}),
    (DECLINE, {}),
    ("all app levers off", APP_LEVERS_OFF),
    (FLOOR, {}),
]


def restart_asterisk(s: Settings) -> None:
    """Asterisk again with the configuration of ``s`` (PostgreSQL keeps running)."""
    asterisk.stop(s.asterisk_root)
    stack_start(s)


@contextlib.contextmanager
def g711_aside(sounds_dir: Path) -> Iterator[int]:
    """Move the G.711 prompt files aside (``.off``) for one run; put them back."""
    moved = [p for p in sounds_dir.rglob("*") if p.suffix in (".ulaw", ".alaw")]
    for path in moved:
        path.rename(path.with_name(path.name + ".off"))
    try:
        yield len(moved)
    finally:
        for path in moved:
            path.with_name(path.name + ".off").rename(path)


async def levers(s: Settings, rate: float, seconds: float, env: dict[str, str]) -> list[RunFigures]:
    """The app at ``rate`` with each lever off in turn; ``kind`` names the lever."""
    callers = await bench_callers(s)
    figs: list[RunFigures] = []
    lever_env = {"AGI_APP_MAX_CONCURRENT_CALLS": str(concurrency_cap(rate)), **env}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in LEVERS:
            if name in ASTERISK_LEVERS:
                restart_asterisk(s.model_copy(update=ASTERISK_LEVERS[name]))
            app = launch_app(s, {**lever_env, **extra}, floor=name == FLOOR)
            try:
                await app.wait_ready_async()
                with g711_aside(s.sounds_dir) if name == G711 else contextlib.nullcontext(0):
                    fig = await one_run(s, "app", rate, seconds, callers, app, Path(tmp))
            finally:
                app.stop()
                if name in ASTERISK_LEVERS:
                    restart_asterisk(s)
            fig.kind = f"app, {name}"
            figs.append(fig)
            print(run_line(fig), flush=True)
    return figs

"""The bench series: native and app interleaved at each rate, the overload run,
and one run per lever (each switched off in turn). `agi-app bench` runs them."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg

from agi_app.settings import Settings
from agi_app.tools.appproc import AppProcess
from agi_app.tools.bench.sipp import RunFigures, markdown, one_run
from agi_app.tools.stack import asterisk
from agi_app.tools.stack.lifecycle import start as stack_start


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


def _app(s: Settings, env: dict[str, str]) -> AppProcess:
    app = AppProcess(s, s.var_dir / "log" / "app-bench.log", env)
    app.launch()
    return app


async def bench(
    s: Settings, rates: list[float], seconds: float, env: dict[str, str], overload: bool
) -> tuple[list[RunFigures], dict[str, Any]]:
    """Alternate native and app runs at each rate; then the overload run."""
    callers = await _callers(s, 2000)
    figs: list[RunFigures] = []
    # Calls last about 3.5 s: size the concurrent-call cap so it never refuses a
    # call in the rate series (the overload run tests admission control).
    env = {"AGI_APP_MAX_CONCURRENT_CALLS": str(concurrency_cap(max(rates))), **env}
    app = _app(s, env)
    try:
        await app.wait_ready_async()
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
                # Admission control sized to the clean rate the app sustained: a
                # concurrent-call cap of that rate x the call's length (refused in
                # the dialplan, cheaply) and a rate limit 20 % above it for bursts
                # (refused by the app). Offer 1.3x the native maximum.
                limit = summary["app_max_clean"] or summary["native_max_clean"]
                cap, per_s = max(1, int(limit * CALL_SECONDS)), round(1.2 * limit, 1)
                app = _app(
                    s,
                    {
                        **env,
                        "AGI_APP_MAX_CONCURRENT_CALLS": str(cap),
                        "AGI_APP_MAX_CALLS_PER_SECOND": str(per_s),
                    },
                )
                await app.wait_ready_async()
                rate = round(1.3 * summary["native_max_clean"])
                fig = await one_run(s, "app-overload", rate, seconds, callers, app, Path(tmp))
                figs.append(fig)
                print(markdown([fig]).splitlines()[-1], flush=True)
                summary["overload"] = overload_summary(fig, rate, cap, per_s)
    finally:
        app.stop()
    return figs, summary


CALL_SECONDS = 3.5  # the bench call: answer, greeting, digit, announcement, hang-up


def concurrency_cap(top_rate: float) -> int:
    return max(400, int(top_rate * 8))


# The cheap levers, each turned off in turn (then all of them) at one rate.
# G711 is not an app setting: for that run the .ulaw/.alaw prompt files are
# moved aside, so Asterisk transcodes the 8 kHz wav for every frame it plays.
# CDR is Asterisk's: for that run Asterisk restarts with CSV CDRs on (then off).
G711 = "prompts as wav (transcoded)"
CDR = "Asterisk CDR on (CSV)"
LEVERS: list[tuple[str, dict[str, str]]] = [
    ("all levers on", {}),
    ("uvloop off", {"AGI_APP_UVLOOP": "0"}),
    ("orjson off (json)", {"AGI_APP_ORJSON": "0"}),
    ("REST over HTTP", {"AGI_APP_ARI_REST_OVER_WS": "0"}),
    ("event filter off", {"AGI_APP_ARI_EVENT_FILTER": "0"}),
    ("real-time priority off", {"AGI_APP_REALTIME_PRIORITY": "0"}),
    (G711, {}),
    (CDR, {}),
    (
        "all app levers off",
        {
            "AGI_APP_UVLOOP": "0",
            "AGI_APP_ORJSON": "0",
            "AGI_APP_ARI_REST_OVER_WS": "0",
            "AGI_APP_ARI_EVENT_FILTER": "0",
            "AGI_APP_REALTIME_PRIORITY": "0",
        },
    ),
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
    callers = await _callers(s, 2000)
    figs: list[RunFigures] = []
    lever_env = {"AGI_APP_MAX_CONCURRENT_CALLS": str(concurrency_cap(rate)), **env}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in LEVERS:
            if name == CDR:
                restart_asterisk(s.model_copy(update={"asterisk_cdr": True}))
            app = _app(s, {**lever_env, **extra})
            try:
                await app.wait_ready_async()
                with g711_aside(s.sounds_dir) if name == G711 else contextlib.nullcontext(0):
                    fig = await one_run(s, "app", rate, seconds, callers, app, Path(tmp))
            finally:
                app.stop()
                if name == CDR:
                    restart_asterisk(s)
            fig.kind = f"app, {name}"
            figs.append(fig)
            print(markdown([fig]).splitlines()[-1], flush=True)
    return figs


def overload_summary(fig: RunFigures, rate: float, cap: int, per_s: float) -> dict[str, Any]:
    admitted = fig.calls - fig.refused
    return {
        "offered_rate": rate,
        "admission_concurrent_cap": cap,
        "admission_rate_limit": per_s,
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

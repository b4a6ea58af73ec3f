"""`agi-app bench soak` (`make soak`): a long run at a steady rate that must stay flat.

The app runs as its own process (as in `agi-app bench`) with the SIPp agents
(5071, 5072, 5074) and the customers' phone (the pstn port, for callbacks).
The run is cut into waves of ``every`` minutes. In each wave one SIPp per path
of the mix (``soak_mix``) places its share of ``rate`` x ``every`` x 60 calls
spread over the wave, all at once; when every call has ended and the stack
is quiet again (no call in the app, no Asterisk channel; at most ``SETTLE_S``)
one row is sampled (``soak_figures``): the app's RSS and open file descriptors
(``/proc``), its asyncio tasks and the loop lag p99 of the wave (``/admin/stats``,
reset at each row), PostgreSQL connections (``pg_stat_activity``), Asterisk
channels (``core show channels count``), the wave's failed calls (SIPp). The
total is bounded: ``rate`` x ``minutes`` x 60 calls, and SIPp is stopped at a
wave's length + ``CALL_TIMEOUT_S`` + ``SETTLE_S`` whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import asyncpg

from agi_app.settings import Settings
from agi_app.tools.appproc import AppProcess
from agi_app.tools.bench import procstat
from agi_app.tools.bench.series import launch_app
from agi_app.tools.bench.soak_figures import Sample, parse_channels, stats_lag_p99, stats_tasks
from agi_app.tools.bench.soak_mix import (
    AGENT_PORTS,
    AGENT_TALK_MS,
    CALL_TIMEOUT_S,
    MIX,
    PHONE_TALK_MS,
    SHEDDING_LEVEL,
    CallPath,
    caller_numbers,
    wave_calls,
)
from agi_app.tools.bench.soak_page import row_line
from agi_app.tools.qa.answer_scenario import build_answerer
from agi_app.tools.qa.play import Admin
from agi_app.tools.qa.runner import Answerer, SippResult, run_callers
from agi_app.tools.qa.scenario import build_caller, parse_keys
from agi_app.tools.stack import asterisk
from agi_app.tools.stack.shell import StackError

# A wave's last calls, and the callbacks it booked: the worker dials them only
# while an agent is free and nobody waits, so most are dialled once the wave's
# calls have ended. The first 30-minute run (callbacks 1 % of the calls, the
# phone holding 60 s) found 2 channels up after 60 s in two rows of six.
SETTLE_S = 120.0
PG_CONNECTIONS_SQL = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND backend_type = $1 AND pid <> pg_backend_pid()"
)

# Callbacks this run booked that no wave's settle saw dialled: cancelled at the
# end, so a later start of the app does not ring a phone nobody answers.
CANCEL_PENDING_SQL = (
    "UPDATE callbacks SET state = 'cancelled', last_result = 'soak ended'"
    " WHERE state = 'pending' AND number LIKE $1"
)

Say = Callable[[str], None]


class Probe:
    """Reads one row's figures from the app, PostgreSQL and Asterisk."""

    def __init__(self, s: Settings, app: AppProcess, pg: asyncpg.Connection) -> None:
        self.s, self.app, self.pg = s, app, pg

    @property
    def pid(self) -> int:
        assert self.app.proc is not None
        return self.app.proc.pid

    async def channels(self) -> int | None:
        try:
            out = await asyncio.to_thread(
                asterisk.cli, self.s.asterisk_root, "core show channels count"
            )
        except (StackError, subprocess.SubprocessError, OSError):
            return None  # a missing figure shows as "-"; its goal is then not met
        return parse_channels(out)

    async def settle(self, timeout_s: float) -> float:
        """Seconds until no call is in the app and Asterisk has no channel (or the
        timeout: the row then shows what was left)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            stats = await self.app.metrics()
            if not stats.get("active_calls") and await self.channels() == 0:
                break
            await asyncio.sleep(0.5)
        return round(time.monotonic() - start, 1)

    async def sample(
        self, wave: int, minute: float, calls: int, failed: int, settle: float
    ) -> Sample:
        stats = await self.app.metrics(reset=True)  # the next wave's lag from here
        rss = procstat.rss_kb(self.pid)
        return Sample(
            wave=wave,
            minute=round(minute, 2),
            calls=calls,
            failed=failed,
            rss_mb=None if rss is None else round(rss / 1024, 1),
            fds=procstat.open_fds(self.pid),
            tasks=stats_tasks(stats),
            pg_conns=int(await self.pg.fetchval(PG_CONNECTIONS_SQL, "client backend")),
            channels=await self.channels(),
            lag_p99_ms=stats_lag_p99(stats) if wave else None,
            settle_s=settle,
        )


async def _wave(
    paths: dict[str, Path], counts: dict[str, int], rate: float, first: int, run: int, wave_s: float
) -> dict[str, tuple[int, int]]:
    """Every path's SIPp at once; per path (calls placed, failed)."""
    jobs, start = [], first
    for p in MIX:
        n = counts[p.name]
        jobs.append(
            run_callers(
                paths[p.name],
                service=p.number,
                callers=caller_numbers(run, start, n),
                calls=n,
                rate=n / wave_s,  # the path's share, spread over the wave
                limit=max(50, int(rate * p.share * 40)),
                timeout_s=wave_s + CALL_TIMEOUT_S + SETTLE_S,
                call_timeout_s=CALL_TIMEOUT_S,
            )
        )
        start += n
    results: list[SippResult] = await asyncio.gather(*jobs)
    return {
        p.name: (counts[p.name], counts[p.name] - r.successful)
        for p, r in zip(MIX, results, strict=True)
    }


async def _parties(s: Settings, work: Path) -> list[Answerer]:
    parties = [
        Answerer(build_answerer(work / name, hold_ms=AGENT_TALK_MS, name=name), port)
        for name, port in AGENT_PORTS.items()
    ]
    phone = build_answerer(work / "phone", hold_ms=PHONE_TALK_MS, name="phone")
    parties.append(Answerer(phone, s.pstn_port))
    started: list[Answerer] = []
    try:
        for party in parties:
            await party.start()
            started.append(party)
    except BaseException:
        await asyncio.gather(*(p.stop() for p in started))
        raise
    return started


async def _cancel_pending(pg: asyncpg.Connection, run: int, say: Say) -> None:
    pattern = "%" + caller_numbers(run, 0, 1)[0][:5] + "%"  # 17 and the run's digits
    try:
        status = await pg.execute(CANCEL_PENDING_SQL, pattern)
    except (asyncpg.PostgresError, OSError) as exc:
        say(f"  could not cancel the run's pending callbacks: {exc}")
        return
    cancelled = int(status.split()[-1])
    if cancelled:
        say(f"  {cancelled} callbacks booked but not yet dialled: cancelled")


def scenarios(work: Path, mix: tuple[CallPath, ...] = MIX) -> dict[str, Path]:
    """One caller scenario per path: its key script, BYE with cause 16 expected."""
    return {
        p.name: build_caller(parse_keys(p.keys), work / p.name, expect_cause=16, early_bye=False)
        for p in mix
    }


async def soak(
    s: Settings, minutes: float, rate: float, every: float, work: Path, say: Say = print
) -> list[Sample]:
    """Start the app and the answerers, run the waves, sample after each; stop all."""
    waves = max(1, round(minutes / every))
    wave_s = every * 60
    counts = wave_calls(rate, wave_s)
    run = int(time.time()) % 1000
    paths = scenarios(work)
    app = launch_app(s, {"AGI_APP_MAX_CONCURRENT_CALLS": str(max(400, int(rate * 40)))})
    admin = Admin(s)
    parties: list[Answerer] = []
    pg: asyncpg.Connection | None = None
    samples: list[Sample] = []
    try:
        await app.wait_ready_async()
        parties = await _parties(s, work)
        await admin.set_shedding(SHEDDING_LEVEL)
        pg = await asyncpg.connect(s.pg_dsn)
        probe = Probe(s, app, pg)
        t0 = time.monotonic()
        samples.append(await probe.sample(0, 0.0, 0, 0, 0.0))
        say(row_line(samples[-1]))
        for wave in range(1, waves + 1):
            first = (wave - 1) * sum(counts.values())
            by_path = await _wave(paths, counts, rate, first, run, wave_s)
            placed, failed = (sum(v[i] for v in by_path.values()) for i in (0, 1))
            if failed:
                say(
                    "  failed by path: "
                    + ", ".join(f"{k} {v[1]}/{v[0]}" for k, v in by_path.items())
                )
            settle = await probe.settle(SETTLE_S)
            minute = (time.monotonic() - t0) / 60
            samples.append(await probe.sample(wave, minute, placed, failed, settle))
            say(row_line(samples[-1]))
    finally:
        if pg is not None:
            await _cancel_pending(pg, run, say)
            await pg.close()
        with contextlib.suppress(OSError, RuntimeError, ValueError, aiohttp.ClientError):
            await admin.restore()  # an app already gone took its override with it
        await asyncio.gather(*(p.stop() for p in parties))
        app.stop()
    return samples

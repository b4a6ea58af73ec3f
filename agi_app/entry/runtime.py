"""The running hotline (`agi-app run`): its parts, started and stopped in order.

Every part is built first (agi_app.entry.wiring, which validates every file
before the first call) and handed in: the Runtime is immutable. ``run`` starts
the servers, then the background loops under the supervisor, serves until
SIGTERM/SIGINT or until a loop keeps dying, then finishes calls in progress,
flushes journeys and stops everything in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agi_app.adapters.ari.app import AriApplication
from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.core.metrics import METRICS
from agi_app.entry.supervisor import LoopFactory, Supervisor
from agi_app.settings import Settings

log = logging.getLogger("agi_app")

Reload = Callable[[], Awaitable[dict[str, Any]]]


class Component(Protocol):
    """A part that listens or holds resources: started before calls, stopped after."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def loop_lag_monitor(interval: float = 0.1) -> None:
    """Event-loop lag: how late a timer fires (bench figure)."""
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(interval)
        METRICS.observe("loop_lag_ms", max(0.0, (time.perf_counter() - t0 - interval) * 1000))


def asyncio_tasks() -> int:
    """Tasks alive on the running event loop (0 outside one): what a leak of call or
    helper tasks shows in (``/metrics``, ``/admin/stats``; the soak reads it)."""
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:
        return 0


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    ari: AriApplication
    journey: JourneyWriter
    loops: Supervisor
    background: tuple[tuple[str, LoopFactory], ...]  # supervised, named
    components: tuple[Component, ...]  # started in order, stopped in reverse
    reload: Reload
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _jobs: set[asyncio.Task[Any]] = field(default_factory=set)  # one-off (a SIGHUP reload)

    async def run(self) -> int:
        """Serve until SIGTERM/SIGINT (exit 0) or a background loop keeps dying (exit 1)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        started: list[Component] = []
        try:
            for component in self.components:
                await component.start()
                started.append(component)
            self._write_pid()
            for name, factory in self.background:
                self.loops.start(name, factory)
            self._log_banner()
            code = await self._serve()
            await self._finish_calls()
        finally:
            await self.loops.stop()
            self.journey.close()  # what is still in memory goes to the spool
            for job in self._jobs:
                job.cancel()
            await asyncio.gather(*self._jobs, return_exceptions=True)
            for component in reversed(started):
                await component.stop()
            (self.settings.node_dir / "run" / "app.pid").unlink(missing_ok=True)
        return code

    async def _serve(self) -> int:
        stop = asyncio.ensure_future(self.stopping.wait())
        failed = asyncio.ensure_future(self.loops.failed.wait())
        await asyncio.wait((stop, failed), return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        failed.cancel()
        if self.loops.failed.is_set():
            log.critical(
                "stopping: background loop %s keeps dying (see the errors above)",
                self.loops.failed_loop,
            )
            return 1
        return 0

    async def _finish_calls(self) -> None:
        """New calls go to the dialplan's fallback; calls in a flow get
        ``drain_s`` to finish, then the fallback takes them too (never dropped
        silently: their journeys end with outcome ``fallback``)."""
        drain_s = self.settings.drain_s
        log.info("stopping: new calls go to the fallback; calls in progress get %.0f s", drain_s)
        await self.ari.stop_admitting()
        await self.ari.drain(drain_s)
        handed = await self.ari.hand_off_all()
        if handed:
            log.warning(
                "stopping: %d calls still in a flow handed to the dialplan fallback", handed
            )
            await self.ari.drain(2)  # their tasks unwind and end their journeys
        with contextlib.suppress(TimeoutError):
            await self.journey.flush(5)

    def _on_sighup(self) -> None:
        job = asyncio.ensure_future(self._sighup())
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _sighup(self) -> None:
        try:
            result = await self.reload()
        except Exception:  # a reload bug must not pass unseen
            log.exception("SIGHUP reload failed")
            return
        log.info("SIGHUP reload: %s", result)

    def _write_pid(self) -> None:
        run_dir = self.settings.node_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "app.pid").write_text(str(os.getpid()))

    def _log_banner(self) -> None:
        s = self.settings
        log.info(
            "hotline running: SIP %s:%d, ARI app %s, FastAGI %s:%d, admin %s:%d",
            s.bind_address,
            s.sip_port,
            s.ari_app,
            s.agi_host,
            s.agi_port,
            s.bind_address,
            s.admin_port,
        )

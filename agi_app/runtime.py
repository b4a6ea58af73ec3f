"""Start-up and shutdown of the running hotline (`agi-app run`).

Everything is validated before the first call is taken (flows, rules, service
policy): a bad file stops the start with a message naming it. At run time
PostgreSQL may come and go; calls keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from agi_app.admin import build_admin
from agi_app.ari.app import Admission, AriApplication
from agi_app.ari.call import AriCall
from agi_app.ari.rest import AriRest
from agi_app.clock import BusinessClock
from agi_app.db.journeys import JourneyWriter
from agi_app.db.pool import Database
from agi_app.db.spool import Spool
from agi_app.fastagi.server import AgiServer
from agi_app.metrics import METRICS
from agi_app.service import CallServices, serve_call
from agi_app.settings import Settings
from agi_app.supervisor import Supervisor

log = logging.getLogger("agi_app")


async def loop_lag_monitor(interval: float = 0.1) -> None:
    """Event-loop lag: how late a timer fires (bench figure)."""
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(interval)
        METRICS.observe("loop_lag_ms", max(0.0, (time.perf_counter() - t0 - interval) * 1000))


class Runtime:
    """The pieces of a running hotline and their lifecycle."""

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.clock = BusinessClock(s.timezone)
        if s.business_clock:
            from datetime import datetime

            self.clock.set(datetime.fromisoformat(s.business_clock))
        self.db = Database(s)
        self.journey = JourneyWriter(
            self.db.pool,
            rejected_path=s.var_dir / "log" / "journeys-rejected.jsonl",
            spool=Spool(s.journey_spool, s.journey_spool_max_bytes),
            deadline_s=s.journey_write_deadline_ms / 1000,
        )
        self.rest = AriRest(
            s.ari_base,
            s.ari_user,
            s.ari_password.get_secret_value(),
            s.ari_app,
            ws_max_waiting=s.ari_ws_max_waiting,
        )
        self.background: list[asyncio.Task[Any]] = []  # one-off jobs (a SIGHUP reload)
        self.loops = Supervisor()
        self.stopping = asyncio.Event()
        self.services: CallServices | None = None
        self.ari: AriApplication | None = None
        self.reload: Callable[[], Awaitable[dict[str, Any]]] = _no_reload
        self.extra_tasks: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self.on_close: list[Callable[[], None]] = []
        self.agi: AgiServer | None = None
        self.side_channel_owner: Any = None  # the callback worker

    def bind(self, services: CallServices) -> None:
        self.services = services

        async def serve_ari(call: AriCall, _args: tuple[str, ...]) -> None:
            assert self.services is not None
            await serve_call(call, "ari", self.services)

        self.ari = AriApplication(
            self.rest,
            serve_ari,
            Admission(self.s.max_concurrent_calls, self.s.max_calls_per_second),
            rest_over_ws=self.s.ari_rest_over_ws,
            event_filter=self.s.ari_event_filter,
        )
        if self.side_channel_owner is not None:  # channels the app dialled (callbacks)
            self.ari.side_channels = self.side_channel_owner.owns
            self.ari.on_side_event = self.side_channel_owner.on_event

    def stats(self) -> dict[str, Any]:
        return {
            "ari_connected": bool(self.ari and self.ari.stream.connected.is_set()),
            "active_calls": len(self.ari.calls) if self.ari else 0,
            "ari_transport": self.rest.transport,
            "ari_requests": {"websocket": self.rest.sent_ws, "http": self.rest.sent_http},
            "journeys_written": self.journey.written,
            "journeys_dropped": self.journey.dropped,
            "journeys_rejected": self.journey.rejected,
            "journeys_pending": self.journey.pending,
            "journeys_spooling": self.journey.spooling,
            "journeys_spooled": self.journey.spooled,
            "journeys_replayed": self.journey.replayed,
            "journey_spool_bytes": self.journey.spool_bytes,
            "loop_restarts": dict(self.loops.restarts),
            "business_clock": self.clock.now().isoformat(),
            "business_clock_overridden": self.clock.overridden,
        }

    async def run(self) -> int:
        """Serve until SIGTERM/SIGINT (exit 0) or a background loop keeps dying (exit 1)."""
        assert self.ari is not None, "bind() the call services first"
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self._sighup()))
        admin = web.AppRunner(
            build_admin(self.s.admin_token.get_secret_value(), self.clock, self.reload, self.stats)
        )
        await admin.setup()
        await web.TCPSite(admin, self.s.bind_address, self.s.admin_port).start()
        self._write_pid()
        if self.agi is not None:
            await self.agi.start()
        self.loops.start("journey-writer", self.journey.run)
        self.loops.start("ari-events", self.ari.run)
        self.loops.start("loop-lag", loop_lag_monitor)
        for name, factory in self.extra_tasks:
            self.loops.start(name, factory)
        log.info(
            "hotline running: SIP %s:%d, ARI app %s, FastAGI %s:%d, admin %s:%d",
            self.s.bind_address,
            self.s.sip_port,
            self.s.ari_app,
            self.s.agi_host,
            self.s.agi_port,
            self.s.bind_address,
            self.s.admin_port,
        )
        stop = asyncio.ensure_future(self.stopping.wait())
        failed = asyncio.ensure_future(self.loops.failed.wait())
        await asyncio.wait((stop, failed), return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        failed.cancel()
        code = 0
        if self.loops.failed.is_set():
            log.critical(
                "stopping: background loop %s keeps dying (see the errors above)",
                self.loops.failed_loop,
            )
            code = 1
        log.info("stopping: finishing calls in progress (up to 10 s)")
        await self.ari.drain(10)
        with contextlib.suppress(TimeoutError):
            await self.journey.flush(5)
        await self.loops.stop()
        self.journey.close()  # what is still in memory goes to the spool
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await admin.cleanup()
        if self.agi is not None:
            await self.agi.close()
        await self.rest.close()
        await self.db.close()
        for close in self.on_close:
            close()
        (self.s.var_dir / "run" / "app.pid").unlink(missing_ok=True)
        return code

    async def _sighup(self) -> None:
        try:
            result = await self.reload()
        except Exception:  # a reload bug must not pass unseen
            log.exception("SIGHUP reload failed")
            return
        log.info("SIGHUP reload: %s", result)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        self.background.append(asyncio.ensure_future(coro))

    def _write_pid(self) -> None:
        run_dir = self.s.var_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "app.pid").write_text(str(os.getpid()))


async def _no_reload() -> dict[str, Any]:
    return {"ok": False, "errors": ["reload is not available"]}

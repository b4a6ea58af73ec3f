"""`agi-app run [--with-stack] [--clock ISO]`: serve the hotline in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
from datetime import datetime
from typing import Any

from agi_app.core.clock import check_business_time
from agi_app.entry.cli.errors import error
from agi_app.settings import get_settings

log = logging.getLogger("agi_app")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("run", help="serve the hotline (foreground)")
    p.add_argument(
        "--with-stack",
        action="store_true",
        help="also start PostgreSQL and Asterisk, and stop them on exit",
    )
    p.add_argument("--clock", help="QA business clock: act as if it were this ISO time")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    s = get_settings()
    if args.clock:
        s = s.model_copy(update={"business_clock": args.clock})
    if s.business_clock and (problem := clock_problem(s.business_clock)):
        error(f"{'--clock' if args.clock else 'AGI_APP_BUSINESS_CLOCK'}: {problem}")
        return 2
    if args.with_stack:
        from agi_app.tools.stack.lifecycle import start, stop

        start()
        _banner(s)
        try:
            return _serve(s)
        finally:
            stop()
    return _serve(s)


def clock_problem(text: str) -> str | None:
    """Why the business clock ``text`` cannot be started from; None when it can."""
    try:
        check_business_time(datetime.fromisoformat(text))
    except ValueError as exc:
        return str(exc)
    return None


def _serve(s: Any) -> int:
    from agi_app.entry.wiring import build_runtime

    if s.realtime_priority:
        _realtime(s.realtime_priority)
    if not s.orjson:
        from agi_app.adapters.ari import jsonio

        jsonio.use_stdlib()
    if s.uvloop:
        try:
            import uvloop

            uvloop.install()
        except ImportError:  # optional speed-up
            pass
    runtime = build_runtime(s)
    if s.gc_tune:
        _tune_gc(s.gc_gen0)
    return asyncio.run(runtime.run())


def _tune_gc(gen0: int) -> None:
    """Freeze the heap built so far (modules, flows, settings) out of the cyclic
    collector's scans, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0, gen1, gen2)


def _realtime(priority: int) -> None:
    """SCHED_RR for this process; threads started later inherit it, children do not."""
    try:
        # Children (the TTS worker, espeak) start at normal priority again.
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
        log.info("running at real-time priority %d (SCHED_RR)", priority)
    except (PermissionError, OSError) as exc:
        log.warning("real-time priority %d not set: %s", priority, exc)


def _banner(s: Any) -> None:
    from agi_app.tools.stack import postgres

    print(
        f"""
==> The hotline is up. Call it with any SIP client on this machine:
      sip:<number>@{s.bind_address}:{s.sip_port}
    Numbers: 100 (demo IVR), 10086 (mobile operator, Mandarin), 95555 (bank, 中文/English),
             8000 (native dialplan IVR, the benchmark baseline)
    A test call from a second shell (press 1 after a second):
      .venv/bin/agi-app qa call --from 13800138000 --to 100 --keys "wait 1; 1"
    Journeys:   .venv/bin/agi-app journeys --last 5
    Console:    http://{s.bind_address}:{s.admin_port}/  (log in with the admin token:
                {s.admin_token.get_secret_value()})
    Controls:   .venv/bin/agi-app announce|shedding|ab ...  (or from the console)
    Logs:       this terminal (app), {s.asterisk_root}/var/log/asterisk/messages.log,
                {postgres.log_path(s)}
    Stop:       Ctrl-C here, or `make stop` from another shell
""",
        flush=True,
    )

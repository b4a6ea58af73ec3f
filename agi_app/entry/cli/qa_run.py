"""`agi-app qa run FILE.yaml`: play a scenario of several parties; one line per check.

    agi-app qa run tests/qa/vip-first.yaml

Exit codes: 0 every expectation held, 1 one or more failed (each printed with
what was seen), 2 the scenario file is invalid or the run could not be set up
(the app not serving, a port taken), 130 interrupted (every SIPp stopped).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from agi_app.adapters.ami.client import AmiError
from agi_app.entry.cli.errors import error
from agi_app.settings import get_settings
from agi_app.tools.qa.plan import PlanError, installation, load_plan
from agi_app.tools.qa.play import play
from agi_app.tools.qa.ports import PortError
from agi_app.tools.stack.cluster import running_view


def register(qs: Any) -> None:
    r: argparse.ArgumentParser = qs.add_parser(
        "run", help="play a scenario file: agents, callers, expectations"
    )
    r.add_argument("file", type=Path, help="scenario, e.g. tests/qa/vip-first.yaml")
    r.add_argument("--check", action="store_true", help="only validate the file")
    r.add_argument("--keep", type=Path, help="keep SIPp's files in this folder")
    r.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_scenario(args))
    except KeyboardInterrupt:  # asyncio.run re-raises Ctrl-C after the run cleaned up
        return 130


def say(line: str) -> None:
    print(line, flush=True)


async def run_scenario(args: argparse.Namespace) -> int:
    logging.getLogger("panoramisk").setLevel(logging.WARNING)  # its connect chatter
    s = running_view(get_settings())  # on a cluster: the queue node, the first IVR node
    try:
        inst = installation(s)
        scn = load_plan(args.file, inst)
    except PlanError as exc:
        for err in exc.errors:
            error(str(err))
        return 2
    if args.check:
        say(f"{args.file}: {len(scn.callers)} caller(s), {len(scn.expect)} expectation(s): ok")
        return 0
    task = asyncio.current_task()
    assert task is not None
    # Our own handlers: a shell's background job inherits SIGINT ignored, and
    # asyncio.run only turns Ctrl-C into a cancellation when it is not.
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
    say(f"scenario {args.file}: {scn.description.strip()}".rstrip(": "))
    try:
        with tempfile.TemporaryDirectory(prefix="agi-app-qa-run-") as tmp:
            work = args.keep or Path(tmp)
            verdicts = await play(scn, s, inst.agent_ports, work, say)
    except asyncio.CancelledError:
        say("interrupted: every SIPp of this run was stopped")
        return 130
    except (PortError, AmiError, OSError, aiohttp.ClientError, RuntimeError) as exc:
        error(f"the run could not be set up: {exc}")
        return 2
    for v in verdicts:
        say(str(v))
    failed = sum(1 for v in verdicts if not v.ok)
    say(f"result: {len(verdicts) - failed} passed, {failed} failed")
    return 1 if failed else 0

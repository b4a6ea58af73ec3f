"""`agi-app shedding force LEVEL --minutes N --reason ...|clear|show`: escalation.

A forced level applies to every caller not exempt (VIPs keep theirs), on every
node reading the same database; journeys record rule ``manual``.
"""

from __future__ import annotations

import argparse
from typing import Any

from agi_app.core.controls import ESCALATION, controls_body
from agi_app.entry.cli.control_common import operator, run_job
from agi_app.service.controls import ControlsService


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("shedding", help="force a shedding level")
    cs = p.add_subparsers(dest="shedding_cmd", required=True)
    f = cs.add_parser("force", help="force LEVEL (1-4) for N minutes")
    f.add_argument("level", type=int)
    f.add_argument("--minutes", type=int, required=True)
    f.add_argument("--reason", required=True)
    cs.add_parser("clear", help="back to the rules")
    cs.add_parser("show", help="the forced level in force")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    async def job(svc: ControlsService, _lines: set[str], _flows: set[str]) -> Any:
        if args.shedding_cmd == "force":
            body = {"level": args.level, "minutes": args.minutes, "reason": args.reason}
            return await svc.force_level(body, operator())
        if args.shedding_cmd == "clear":
            return {"cleared": await svc.clear(ESCALATION, operator())}
        return controls_body(await svc.refresh())[ESCALATION]

    return run_job(job)

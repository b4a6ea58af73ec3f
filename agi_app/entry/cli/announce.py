"""`agi-app announce set|clear|show`: the emergency announcement.

Every new call on the lines named (all lines when none are) hears it before
its flow, until it expires or is cleared. Text is rendered by TTS at once.
"""

from __future__ import annotations

import argparse
from typing import Any

from agi_app.core.controls import ANNOUNCEMENT, announcement_body, controls_body
from agi_app.entry.cli.control_common import operator, run_job
from agi_app.service.controls import ControlsService


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("announce", help="emergency announcement")
    cs = p.add_subparsers(dest="announce_cmd", required=True)
    st = cs.add_parser("set", help="every new call hears TEXT before its flow")
    st.add_argument("text")
    st.add_argument("--minutes", type=int, default=60, help="until it ends by itself")
    st.add_argument("--lines", default="", help="numbers, comma-separated (default: all)")
    st.add_argument("--language", default="zh", choices=("zh", "en"))
    cs.add_parser("clear", help="end the announcement now")
    cs.add_parser("show", help="the announcement in force")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    async def job(svc: ControlsService, lines: set[str], _flows: set[str]) -> Any:
        if args.announce_cmd == "set":
            body = {
                "text": args.text,
                "minutes": args.minutes,
                "lines": args.lines,
                "language": args.language,
            }
            return announcement_body(await svc.set_announcement(body, operator(), lines))
        if args.announce_cmd == "clear":
            return {"cleared": await svc.clear(ANNOUNCEMENT, operator())}
        return controls_body(await svc.refresh())[ANNOUNCEMENT]

    return run_job(job, render=args.announce_cmd == "set")

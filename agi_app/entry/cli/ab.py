"""`agi-app ab set LINE FLOW_A FLOW_B --share 0.5|clear LINE|show`: A/B splits.

A line's new calls go to FLOW_B with probability SHARE, to FLOW_A otherwise,
by a hash of the caller's number (a caller keeps their variant); journeys
record the variant (``A:flow`` or ``B:flow``). `agi-app report --variants`
compares them.
"""

from __future__ import annotations

import argparse
from typing import Any

from agi_app.core.controls import AB_SPLIT, controls_body, split_body
from agi_app.entry.cli.control_common import operator, run_job
from agi_app.service.controls import ControlsService


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("ab", help="A/B split of a line's flows")
    cs = p.add_subparsers(dest="ab_cmd", required=True)
    st = cs.add_parser("set", help="split LINE between FLOW_A and FLOW_B")
    st.add_argument("line")
    st.add_argument("flow_a")
    st.add_argument("flow_b")
    st.add_argument("--share", type=float, default=0.5, help="FLOW_B's share, 0..1")
    c = cs.add_parser("clear", help="end LINE's split")
    c.add_argument("line")
    cs.add_parser("show", help="the splits in force")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    async def job(svc: ControlsService, lines: set[str], flows: set[str]) -> Any:
        if args.ab_cmd == "set":
            body = {
                "line": args.line,
                "flow_a": args.flow_a,
                "flow_b": args.flow_b,
                "share": args.share,
            }
            return split_body(await svc.set_split(body, operator(), lines, flows))
        if args.ab_cmd == "clear":
            return {"cleared": await svc.clear(AB_SPLIT, operator(), args.line)}
        return controls_body(await svc.refresh())["splits"]

    return run_job(job)

"""`agi-app stack`: set up, start, stop and inspect the real parts.

``setup`` is idempotent: secrets, the Asterisk root, the PostgreSQL cluster,
migrations, demo data. ``start``/``stop`` bring PostgreSQL and Asterisk up and down.
"""

from __future__ import annotations

import argparse
from typing import Any

from agi_app.entry.cli.errors import error
from agi_app.tools.stack.lifecycle import purge, setup, start, start_cluster, status, stop
from agi_app.tools.stack.shell import StackError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("stack", help="set up / start / stop the stack")
    ss = p.add_subparsers(dest="stack_cmd", required=True)
    ss.add_parser("setup", help="secrets, Asterisk root, database, migrations, demo data")
    st = ss.add_parser("start", help="start PostgreSQL and Asterisk (or a cluster: --nodes N)")
    st.add_argument(
        "--nodes",
        type=int,
        default=0,
        help="a cluster: Kamailio on the SIP port, N IVR nodes (Asterisk + app) and a queue node",
    )
    ss.add_parser("stop", help="stop the app, Asterisk and PostgreSQL; unmount")
    ss.add_parser("status", help="what is running")
    ss.add_parser("purge", help="stop everything and delete this checkout's database cluster")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    try:
        if args.stack_cmd == "start" and args.nodes:
            return start_cluster(args.nodes)
        commands = {"setup": setup, "start": start, "stop": stop, "status": status, "purge": purge}
        return commands[args.stack_cmd]()
    except StackError as exc:
        error(str(exc))
        return 1

"""`agi-app cluster status [--json]`: every node as the ``nodes`` table shows it.

One row per node: its state (``up`` when heard from within 6 s with its ARI
connected, ``no ari`` when heard from without it, then ``stale``, ``down``
after a minute or a graceful stop), pid, calls in progress,
flow version, whether its ARI is connected and whether it leads the callback
worker. Exit status 0 when a node is up and exactly one up node leads, else 1.

A column "as Kamailio sees it" comes from ``kamailio_view``: return a mapping
node -> dispatcher state there and the table grows that column (and a row for
any node only Kamailio knows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agi_app.adapters.kamailio.dispatcher import KamailioError, destinations
from agi_app.adapters.postgres.nodes import PgNodeStore
from agi_app.core.cluster import NodeRow, cluster_table, render_table
from agi_app.entry.cli.database import pool as database_pool
from agi_app.entry.cli.database import unreachable
from agi_app.settings import Settings, get_settings
from agi_app.tools.stack.kamailio import paths as kamailio_paths


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("cluster", help="the nodes of the hotline")
    cs = p.add_subparsers(dest="cluster_cmd", required=True)
    st = cs.add_parser("status", help="one row per node: state, calls, flows, leader")
    st.add_argument("--json", action="store_true", help="machine-readable")
    p.set_defaults(handler=_handle)


def kamailio_view(s: Settings) -> Mapping[str, str] | None:
    """Node -> the dispatcher's state of it (``kamcmd dispatcher.list`` over this
    checkout's Kamailio control socket: active/inactive, probing, calls carried);
    None when no Kamailio of ours runs (one node): no column."""
    ctl = kamailio_paths(s).ctl
    if not ctl.exists():
        return None
    try:
        dests = destinations(ctl)
    except KamailioError:
        return None
    return {d.node: f"{d.state} {d.load}/{d.maxload}" for d in dests}


async def read_nodes(s: Settings) -> tuple[list[NodeRow], datetime]:
    pool = await database_pool(s, min_size=1, max_size=1)
    try:

        async def get_pool() -> Any:
            return pool

        return await PgNodeStore(get_pool).nodes()
    except ConnectionError as exc:  # lost after connecting (the store's db_call)
        raise unreachable(s, exc) from exc
    finally:
        await pool.close()


def status(
    rows: list[NodeRow], now: datetime, kamailio: Mapping[str, str] | None
) -> dict[str, Any]:
    """The command's JSON: the table, the leader, and whether all is well."""
    table = cluster_table(rows, now, kamailio)
    leaders = [e["node"] for e in table if e["leader"]]
    up = [e["node"] for e in table if e["state"] == "up"]
    return {
        "now": now.isoformat(),
        "nodes": table,
        "up": len(up),
        "leader": leaders[0] if len(leaders) == 1 else None,
        # one leader, and able to dial the callbacks it leads (its ARI connected)
        "ok": bool(up) and len(leaders) == 1 and leaders[0] in up,
    }


def _handle(args: argparse.Namespace) -> int:
    s = get_settings()
    rows, now = asyncio.run(read_nodes(s))
    body = status(rows, now, kamailio_view(s))
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        print(render_table(body["nodes"]) if body["nodes"] else "no node has written a heartbeat")
        print(f"{body['up']} up; leader: {body['leader'] or 'none'}")
    return 0 if body["ok"] else 1

"""The ``nodes`` table: every app's heartbeat (a ``service.heartbeat.NodeStore``).

Times are the database's (``now()``), so nodes on machines whose clocks
disagree are still compared fairly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from agi_app.adapters.postgres.pool import db_call
from agi_app.core.cluster import NodeRow, NodeStatus

PoolGetter = Callable[[], Awaitable[Any]]

BEAT_SQL = """
INSERT INTO nodes (node, instance, pid, flow_version, calls, ari_connected, admission_limit,
                   leader, admin, started_at, last_seen, stopped_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), NULL)
ON CONFLICT (node) DO UPDATE SET instance = EXCLUDED.instance, pid = EXCLUDED.pid,
    flow_version = EXCLUDED.flow_version, calls = EXCLUDED.calls,
    ari_connected = EXCLUDED.ari_connected, admission_limit = EXCLUDED.admission_limit,
    leader = EXCLUDED.leader, admin = EXCLUDED.admin, started_at = EXCLUDED.started_at,
    last_seen = now(), stopped_at = NULL
"""
STOPPED_SQL = (
    "UPDATE nodes SET stopped_at = now(), leader = false, calls = 0, ari_connected = false"
    " WHERE node = $1 AND instance = $2"
)
LIST_SQL = (
    "SELECT node, instance, pid, flow_version, calls, ari_connected, admission_limit, leader,"
    " admin, started_at, last_seen, stopped_at, now() AS db_now FROM nodes ORDER BY node"
)
OTHERS_UP_SQL = (
    "SELECT count(*) FROM nodes WHERE node <> $1 AND stopped_at IS NULL"
    " AND last_seen > now() - make_interval(secs => $2)"
)


class PgNodeStore:
    """Writes this node's heartbeat; reads everyone's."""

    def __init__(self, get_pool: PoolGetter) -> None:
        self._get_pool = get_pool

    async def _pool(self) -> Any:
        pool = await self._get_pool()
        if pool is None:
            raise ConnectionError("the database is not reachable")
        return pool

    async def beat(self, s: NodeStatus) -> None:
        pool = await self._pool()
        await db_call(
            pool.execute(
                BEAT_SQL,
                s.node,
                s.instance,
                s.pid,
                s.flow_version,
                s.calls,
                s.ari_connected,
                s.admission_limit,
                s.leader,
                s.admin,
                s.started_at,
            )
        )

    async def stopped(self, node: str, instance: str) -> None:
        """This run of the node ends (a graceful stop): it is down at once."""
        pool = await self._pool()
        await db_call(pool.execute(STOPPED_SQL, node, instance))

    async def nodes(self) -> tuple[list[NodeRow], datetime]:
        """Every node's last heartbeat, and the database's time now."""
        pool = await self._pool()
        rows = await db_call(pool.fetch(LIST_SQL))
        if not rows:
            now = await db_call(pool.fetchval("SELECT now()"))
            return [], now
        return [_row(r) for r in rows], rows[0]["db_now"]

    async def others_up(self, node: str, within_s: float) -> bool:
        """Another node has been heard from within ``within_s`` and has not stopped."""
        pool = await self._pool()
        n = await db_call(pool.fetchval(OTHERS_UP_SQL, node, float(within_s)))
        return bool(n)


def _row(r: Any) -> NodeRow:
    status = NodeStatus(
        node=r["node"],
        instance=r["instance"],
        pid=r["pid"],
        flow_version=r["flow_version"],
        calls=r["calls"],
        ari_connected=r["ari_connected"],
        admission_limit=r["admission_limit"],
        leader=r["leader"],
        started_at=r["started_at"],
        admin=r["admin"],
    )
    return NodeRow(status, r["last_seen"], r["stopped_at"])

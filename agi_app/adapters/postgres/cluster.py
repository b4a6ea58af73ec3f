"""What every node shares (``cluster_state``) and the wake-up when it changes.

``PgSharedStore`` (a ``service.cluster.SharedStore``) writes one row per key
(flows, clock, shedding) with a new generation from one sequence; a trigger
(migrations/0011_cluster.sql) sends ``NOTIFY agi_app_cluster`` on every change.
``PgNotifications`` LISTENs on a connection of its own and calls ``wake`` on
each notification, and once after every (re)connect, since notifications sent
while it was away are lost; the service also reads the table every few
seconds, so a missed notification only delays a change.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from agi_app.adapters.postgres.pool import db_call
from agi_app.core.cluster import Shared

log = logging.getLogger(__name__)

PoolGetter = Callable[[], Awaitable[Any]]
Connect = Callable[..., Awaitable[Any]]
CHANNEL = "agi_app_cluster"

PUBLISH_SQL = """
INSERT INTO cluster_state (key, generation, body, origin, node)
VALUES ($1, nextval('cluster_generation'), $2::jsonb, $3, $4)
ON CONFLICT (key) DO UPDATE SET generation = EXCLUDED.generation, body = EXCLUDED.body,
    origin = EXCLUDED.origin, node = EXCLUDED.node, set_at = now()
RETURNING generation
"""
LOAD_SQL = "SELECT key, generation, body::text AS body, origin, node FROM cluster_state"


class PgSharedStore:
    def __init__(self, get_pool: PoolGetter) -> None:
        self._get_pool = get_pool

    async def _pool(self) -> Any:
        pool = await self._get_pool()
        if pool is None:
            raise ConnectionError("the database is not reachable")
        return pool

    async def publish(self, key: str, body: dict[str, Any], origin: str, node: str) -> int:
        """Share ``body`` under ``key``; its generation (the notification goes on commit)."""
        pool = await self._pool()
        generation: int = await db_call(
            pool.fetchval(PUBLISH_SQL, key, json.dumps(body), origin, node)
        )
        return generation

    async def load(self) -> list[Shared]:
        pool = await self._pool()
        rows = await db_call(pool.fetch(LOAD_SQL))
        return [
            Shared(r["key"], r["generation"], json.loads(r["body"]), r["origin"], r["node"])
            for r in rows
        ]


class PgNotifications:
    """LISTEN on a connection of its own; ``wake()`` on every notification."""

    def __init__(
        self,
        dsn: str,
        wake: Callable[[], None],
        *,
        node: str = "",
        retry_s: float = 2.0,
        timeout_s: float = 2.0,
        connect: Connect = asyncpg.connect,
    ) -> None:
        self.dsn, self.wake, self.node = dsn, wake, node
        self.retry_s, self.timeout_s = retry_s, timeout_s
        self._connect = connect
        self.listening = False
        self.received = 0

    async def run(self) -> None:
        """Background loop: listen while connected, reconnect every ``retry_s``."""
        while True:
            try:
                await self._listen()
                log.warning("cluster: the LISTEN connection closed; reconnecting")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("cluster: cannot LISTEN (%s); polling only", exc)
            await asyncio.sleep(self.retry_s)

    async def _listen(self) -> None:
        """One connection's life: LISTEN until it closes."""
        closed = asyncio.Event()
        conn = await asyncio.wait_for(
            self._connect(
                self.dsn,
                timeout=self.timeout_s,
                server_settings={"application_name": f"agi-app listen {self.node}".strip()},
            ),
            self.timeout_s,
        )
        try:
            conn.add_termination_listener(lambda _c: closed.set())
            await conn.add_listener(CHANNEL, self._notified)
            self.listening = True
            self.wake()  # whatever changed while we were not listening
            await closed.wait()
        finally:
            self.listening = False
            if not conn.is_closed():
                conn.terminate()

    def _notified(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        self.received += 1
        self.wake()

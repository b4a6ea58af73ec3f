"""Leadership by a PostgreSQL session-level advisory lock (a ``core.cluster.Leadership``).

The lock lives on a connection of its own (never a pooled one): the server
releases it when that session ends, so when a leader's process dies (``kill
-9``: the kernel closes its socket) or its connection is cut
(``pg_terminate_backend``), another node's next try, every ``retry_s``, takes
it. TCP keepalives on that session bound how long a vanished machine can keep
the lock.

The leader stops leading the moment its connection closes (asyncpg's
termination listener), or when a check every ``check_s`` fails or is late:
``token()`` is None from then on. A node that lost the lock waits two rounds
(``2 x retry_s``) before it tries again, so another live node takes over
rather than the one whose connection just failed. A statement can also check the token in the
database (``core.cluster.LeaderToken``: this session, still holding the lock),
which closes the gap between the server releasing the lock and this process
noticing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from agi_app.core.cluster import LeaderToken

log = logging.getLogger(__name__)

LOCK_CLASS = 0x41474901  # our advisory locks' first key ("AGI", 1)
LOCKS = {"callbacks": 1}  # the second key: what the leader leads
TRY_SQL = (
    "SELECT pg_try_advisory_lock($1, $2) AS got, pg_backend_pid() AS pid,"
    " (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS since"
)
# Dead peers are noticed by the server within about 5 + 2 x 3 = 11 s.
KEEPALIVE = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
}
Connect = Callable[..., Awaitable[Any]]


class PgLeader:
    """Tries for the lock every ``retry_s`` while not leading; checks it every
    ``check_s`` while leading."""

    def __init__(
        self,
        dsn: str,
        name: str = "callbacks",
        *,
        node: str = "",
        key: int | None = None,  # another second key (tests: a lock of their own)
        retry_s: float = 1.0,
        check_s: float = 1.0,
        timeout_s: float = 2.0,
        connect: Connect = asyncpg.connect,
    ) -> None:
        self.dsn, self.name, self.node = dsn, name, node
        self.lock = (LOCK_CLASS, LOCKS[name] if key is None else key)
        self.retry_s, self.check_s, self.timeout_s = retry_s, check_s, timeout_s
        self._connect = connect
        self._conn: Any = None
        self._token: LeaderToken | None = None
        self._hold_off_until = 0.0  # monotonic: no try before this (just stepped down)
        self.terms = 0  # how many times this node became leader
        self.tries = 0  # attempts to take the lock

    @property
    def leader(self) -> bool:
        return self.token() is not None

    def token(self) -> LeaderToken | None:
        if self._token is not None and (self._conn is None or self._conn.is_closed()):
            self._step_down("its connection closed")
        return self._token

    async def run(self) -> None:
        """Background loop: take the lock when free, keep it while the session lives."""
        try:
            while True:
                try:
                    await self._round()
                except (
                    OSError,
                    asyncpg.PostgresError,
                    asyncpg.InterfaceError,
                    TimeoutError,
                ) as exc:
                    self._drop(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.check_s if self._token else self.retry_s)
        finally:
            self._drop("stopping")

    async def _round(self) -> None:
        if self._conn is None or self._conn.is_closed():
            self._step_down("its connection closed")
            self._conn = await asyncio.wait_for(
                self._connect(
                    self.dsn,
                    timeout=self.timeout_s,
                    server_settings={
                        **KEEPALIVE,
                        "application_name": f"agi-app leader {self.node}".strip(),
                    },
                ),
                self.timeout_s,
            )
            self._conn.add_termination_listener(self._on_terminated)
        if self._token is None and time.monotonic() < self._hold_off_until:
            return
        async with asyncio.timeout(self.timeout_s):
            if self._token is None:
                self.tries += 1
                row = await self._conn.fetchrow(TRY_SQL, *self.lock)
                if row["got"]:
                    self._token = LeaderToken(self.lock, row["pid"], row["since"])
                    self.terms += 1
                    log.warning("leadership: this node (%s) now leads %s", self.node, self.name)
            else:
                await self._conn.fetchval("SELECT 1")

    def _on_terminated(self, _conn: Any) -> None:
        self._step_down("its connection closed")

    def _step_down(self, why: str) -> None:
        if self._token is not None:
            self._token = None
            self._hold_off_until = time.monotonic() + 2 * self.retry_s
            log.warning(
                "leadership: this node (%s) no longer leads %s: %s", self.node, self.name, why
            )

    def _drop(self, why: str) -> None:
        """Stop leading and let the session go: closing the socket ends the session,
        and with it the lock (a check that failed or was late leaves the session
        in doubt: a new one is cleaner)."""
        self._step_down(why)
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.remove_termination_listener(self._on_terminated)
            conn.terminate()

"""The asyncpg pool, created lazily so the app starts (and serves calls as
unknown callers) even while PostgreSQL is down."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from agi_app.settings import Settings

log = logging.getLogger(__name__)


async def keep_session(_conn: Any) -> None:
    """Release without asyncpg's reset query (``RESET ALL; UNLISTEN *; ...``).

    Pooled connections never change session state here (no SET, LISTEN,
    advisory lock or cursor), so that query is a wasted round trip on every
    lookup. asyncpg still rolls back a transaction left open before this runs.
    """


async def create_pool(s: Settings, **kwargs: Any) -> Any:
    """A pool to our database; asyncpg's Pool (untyped library)."""
    return await asyncpg.create_pool(
        dsn=s.pg_dsn,
        min_size=kwargs.pop("min_size", s.pg_pool_min),
        max_size=kwargs.pop("max_size", s.pg_pool_max),
        command_timeout=kwargs.pop("command_timeout", 10),
        reset=kwargs.pop("reset", keep_session),
        **kwargs,
    )


def session_name(node: str, role: str) -> str:
    """The ``application_name`` of a pool's sessions, e.g. ``agi-app ivr1 lookup``:
    pg_stat_activity, PostgreSQL's log and ``bench --profile`` tell the pools apart."""
    return f"agi-app {node} {role}"[:63]  # PostgreSQL keeps 63 bytes (ASCII here)


class Database:
    """Holds the pool; retries creating it at most every ``retry_s`` seconds.
    ``role`` names its sessions (``session_name``)."""

    def __init__(
        self,
        s: Settings,
        retry_s: float = 2.0,
        connect_timeout: float = 2.0,
        server_settings: dict[str, str] | None = None,
        role: str = "main",
        init: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        self._settings = s
        # the sessions' own settings: their name, and any the caller gives
        self._server_settings = {
            "application_name": session_name(s.node, role),
            **(server_settings or {}),
        }
        self._init = init  # run on each new connection
        self._retry = retry_s
        self._timeout = connect_timeout
        self._pool: Any = None
        self._last_try = -1e9
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> Any:
        """The pool if it exists (no I/O): for the per-call hot path."""
        return self._pool

    async def pool(self) -> Any:
        """The pool, or None when PostgreSQL cannot be reached right now."""
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None and time.monotonic() - self._last_try >= self._retry:
                self._last_try = time.monotonic()
                try:
                    self._pool = await create_pool(
                        self._settings,
                        timeout=self._timeout,
                        server_settings=self._server_settings,
                        init=self._init,
                    )
                    log.info("database pool ready")
                except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                    log.warning("database unavailable: %s", exc)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


# The per-call lookup's pool: its statements are planned once for every value
# (generic plans, pruned to the right days' partitions as they run). Left to
# itself PostgreSQL plans the first 5 runs of a statement on each connection for
# their values: with a full retention of daily partitions (400 days) the risk
# history's plan then covers every partition of call_steps, 49 ms of PostgreSQL
# CPU each (measured), against 0.31 ms for the generic plan. A lookup is worth
# nothing after its deadline (150 ms by default): a statement that runs a second
# is stopped, so a session at real-time priority (adapters.postgres.priority)
# never holds a core.
LOOKUP_SESSION = {"plan_cache_mode": "force_generic_plan", "statement_timeout": "1s"}


async def db_call(query: Awaitable[Any]) -> Any:
    """A statement's result; the database failing or unreachable is a ``ConnectionError``
    (what the services handed a store catch, knowing nothing of asyncpg)."""
    try:
        return await query
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        # a pooled connection caught mid-operation by a server restart (seen: "cannot
        # switch to state 12; another operation is in progress")
        asyncpg.InternalClientError,
        OSError,
    ) as exc:
        raise ConnectionError(f"database: {exc}") from exc

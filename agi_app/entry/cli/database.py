"""The commands' way into PostgreSQL: a connection or a pool, or
``DatabaseUnreachable`` naming why not (``main`` prints it, no traceback).

Only connecting is translated: an ``OSError`` later in a command (a file it
writes) is that command's own and keeps its meaning.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from agi_app.adapters.postgres.pool import create_pool
from agi_app.entry.cli.errors import DatabaseUnreachable
from agi_app.settings import Settings

# A command waits this long for PostgreSQL, not asyncpg's 60 s.
CONNECT_TIMEOUT_S = 5.0

# Nothing listening, no route, an unknown host, no answer in time (all OSError,
# TimeoutError included); the server starting or stopping; the server reached
# but refusing us (wrong password, no such database).
_DOWN = (OSError, asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError)
_REFUSED = (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError)


# The connection gone in the middle of a command: closed under it, the server
# shut down or restarting (SQLSTATE class 08 and 57P01-57P03).
LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.CannotConnectNowError,
)


def lost(exc: BaseException) -> str:
    """The error ``main`` prints when the database went away during a command."""
    return (
        f"the database connection was lost during the command: {exc or type(exc).__name__}"
        " (was PostgreSQL stopped or restarted?); nothing after that point was done"
    )


def unreachable(s: Settings, exc: BaseException) -> DatabaseUnreachable:
    """The error ``main`` prints for a failed connection to ``s``'s database."""
    where = f"PostgreSQL at {s.pg_host}:{s.pg_port} (AGI_APP_PG_HOST, AGI_APP_PG_PORT)"
    if isinstance(exc, _REFUSED):
        return DatabaseUnreachable(f"the database refused the connection: {exc}\n  {where}")
    if isinstance(exc, TimeoutError):
        reason = f"no answer within {CONNECT_TIMEOUT_S:g} s"
    else:
        reason = str(exc) or type(exc).__name__
    return DatabaseUnreachable(
        f"the database is not reachable: {reason}\n"
        f"  {where}; `agi-app stack start` starts this checkout's"
    )


async def connect(s: Settings) -> Any:
    """An asyncpg connection to the database (untyped library)."""
    try:
        return await asyncpg.connect(s.pg_dsn, timeout=CONNECT_TIMEOUT_S)
    except (*_DOWN, *_REFUSED) as exc:
        raise unreachable(s, exc) from exc


@asynccontextmanager
async def connection(s: Settings) -> AsyncIterator[Any]:
    """``connect``, closed on the way out."""
    conn = await connect(s)
    try:
        yield conn
    finally:
        await conn.close()


async def pool(s: Settings, **kwargs: Any) -> Any:
    """An asyncpg pool to the database (``create_pool``'s arguments)."""
    try:
        return await create_pool(s, timeout=CONNECT_TIMEOUT_S, **kwargs)
    except (*_DOWN, *_REFUSED) as exc:
        raise unreachable(s, exc) from exc


async def probe(s: Settings) -> None:
    """Connect and close: for a command whose work connects out of our sight."""
    async with connection(s):
        pass

"""A store's statement failing in any of asyncpg's ways is a ConnectionError for
the services (a server restart once surfaced as InternalClientError and killed
the heartbeat loop)."""

from __future__ import annotations

import asyncpg
import pytest

from agi_app.adapters.postgres.pool import db_call


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.PostgresError("server went away"),
        ConnectionResetError("reset"),
    ],
)
async def test_every_database_failure_is_a_connection_error(exc: Exception) -> None:
    async def failing() -> None:
        raise exc

    with pytest.raises(ConnectionError, match="database: "):
        await db_call(failing())

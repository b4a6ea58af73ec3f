"""Which journey-write failures are retried (database away) and which are split out."""

from __future__ import annotations

import asyncpg
import pytest

from agi_app.adapters.postgres.journeys import is_transient


def _pg(cls: type[asyncpg.PostgresError]) -> asyncpg.PostgresError:
    return cls.new({"M": "x", "C": cls.sqlstate})


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ConnectionRefusedError(), True),
        (OSError("network unreachable"), True),
        (TimeoutError(), True),
        (ConnectionError("no database pool"), True),
        (asyncpg.InterfaceError("pool is closing"), True),
        (_pg(asyncpg.CannotConnectNowError), True),  # 57P03: starting up
        (_pg(asyncpg.AdminShutdownError), True),  # 57P01
        (_pg(asyncpg.TooManyConnectionsError), True),  # 53300
        (_pg(asyncpg.ConnectionDoesNotExistError), True),  # 08003
        (_pg(asyncpg.DeadlockDetectedError), True),  # 40P01
        (_pg(asyncpg.CharacterNotInRepertoireError), False),  # 22021: a NUL byte
        (_pg(asyncpg.InvalidTextRepresentationError), False),  # 22P02: NaN in jsonb
        (_pg(asyncpg.NotNullViolationError), False),  # 23502
        (_pg(asyncpg.UndefinedColumnError), False),  # 42703: schema out of date
        (ValueError("invalid literal for int()"), False),
        (TypeError("bad row"), False),
    ],
)
def test_transient_or_not(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient

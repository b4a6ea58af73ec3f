"""The asyncpg pool, created once per process."""

from __future__ import annotations

from typing import Any

import asyncpg

from agi_app.settings import Settings


async def create_pool(s: Settings, **kwargs: Any) -> Any:
    """A pool to our database; asyncpg's Pool (untyped library)."""
    return await asyncpg.create_pool(
        dsn=s.pg_dsn,
        min_size=kwargs.pop("min_size", s.pg_pool_min),
        max_size=kwargs.pop("max_size", s.pg_pool_max),
        command_timeout=kwargs.pop("command_timeout", 10),
        **kwargs,
    )

"""The operator controls and their audit trail in PostgreSQL.

Every change is one transaction: the row in ``controls`` and the line in
``control_audit`` (who, what, when, before and after) go in together or not
at all. All SQL takes parameters.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from agi_app.core.controls import Controls, controls_from_rows

PoolGetter = Callable[[], Awaitable[Any]]

LOAD_SQL = (
    "SELECT kind, scope, body::text AS body FROM controls"
    " WHERE expires_at IS NULL OR expires_at > now()"
)
BEFORE_SQL = "SELECT body::text FROM controls WHERE kind = $1 AND scope = $2 FOR UPDATE"
PUT_SQL = (
    "INSERT INTO controls (kind, scope, body, expires_at, set_by)"
    " VALUES ($1, $2, $3::jsonb, $4, $5)"
    " ON CONFLICT (kind, scope) DO UPDATE SET body = EXCLUDED.body,"
    " expires_at = EXCLUDED.expires_at, set_by = EXCLUDED.set_by, set_at = now()"
)
DELETE_SQL = "DELETE FROM controls WHERE kind = $1 AND scope = $2"
AUDIT_SQL = (
    "INSERT INTO control_audit (who, action, kind, scope, before, after)"
    " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)"
)
AUDIT_LIST_SQL = (
    "SELECT id, at, who, action, kind, scope, before::text AS before, after::text AS after"
    " FROM control_audit ORDER BY id DESC LIMIT $1"
)


class NoDatabase(ConnectionError):
    """PostgreSQL cannot be reached: the control was not changed."""


class PgControlStore:
    """Reads the controls in force and records every change with its audit line."""

    def __init__(self, get_pool: PoolGetter) -> None:
        self._get_pool = get_pool

    async def _pool(self) -> Any:
        pool = await self._get_pool()
        if pool is None:
            raise NoDatabase("the database is not reachable")
        return pool

    async def load(self) -> Controls:
        """The controls that have not expired."""
        pool = await self._pool()
        rows = await pool.fetch(LOAD_SQL)
        return controls_from_rows([(r["kind"], r["scope"], json.loads(r["body"])) for r in rows])

    async def put(
        self,
        kind: str,
        scope: str,
        body: dict[str, Any],
        expires_at: datetime | None,
        who: str,
    ) -> dict[str, Any] | None:
        """Set a control; returns what it replaced (None if nothing)."""
        after = json.dumps(body, ensure_ascii=False)
        pool = await self._pool()
        async with pool.acquire() as conn, conn.transaction():
            before = await conn.fetchval(BEFORE_SQL, kind, scope)
            await conn.execute(PUT_SQL, kind, scope, after, expires_at, who)
            await conn.execute(AUDIT_SQL, who, "set", kind, scope, before, after)
        return json.loads(before) if before else None

    async def clear(self, kind: str, scope: str, who: str) -> dict[str, Any] | None:
        """End a control; returns what was in force (None: nothing was, no audit line)."""
        pool = await self._pool()
        async with pool.acquire() as conn, conn.transaction():
            before = await conn.fetchval(BEFORE_SQL, kind, scope)
            if before is None:
                return None
            await conn.execute(DELETE_SQL, kind, scope)
            await conn.execute(AUDIT_SQL, who, "clear", kind, scope, before, None)
        return dict(json.loads(before))

    async def audit(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest changes, newest first."""
        pool = await self._pool()
        rows = await pool.fetch(AUDIT_LIST_SQL, limit)
        return [
            {
                "id": r["id"],
                "at": r["at"].isoformat(),
                "who": r["who"],
                "action": r["action"],
                "kind": r["kind"],
                "scope": r["scope"],
                "before": json.loads(r["before"]) if r["before"] else None,
                "after": json.loads(r["after"]) if r["after"] else None,
            }
            for r in rows
        ]

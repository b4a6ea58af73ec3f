"""Schema migrations: ``migrations/NNNN_name.sql`` applied in order.

Each file runs in its own transaction and is recorded in ``schema_migrations``;
a failing file leaves the database as it was and the error names the file and
the statement. Running again applies nothing that is already recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """A migration file failed; nothing of it was applied."""


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path


def discover(directory: Path) -> list[Migration]:
    """Migration files in version order; a badly named .sql file is an error."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: name must look like 0001_some_name.sql")
        found.append(Migration(match.group(1), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a version number")
    return found


def split_statements(sql: str) -> list[str]:
    """Split on semicolons outside quotes, dollar quotes and comments."""
    statements, buf, i = [], [], 0
    quote: str | None = None
    while i < len(sql):
        ch = sql[i]
        if quote is None and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
            continue
        if quote is None and ch == "$":
            m = re.match(r"\$[A-Za-z_]*\$", sql[i:])
            if m:
                quote = m.group(0)
                buf.append(quote)
                i += len(quote)
                continue
        elif quote and quote.startswith("$") and sql.startswith(quote, i):
            buf.append(quote)
            i += len(quote)
            quote = None
            continue
        if ch in ("'", '"') and (quote is None or quote == ch):
            quote = None if quote == ch else ch
        if ch == ";" and quote is None:
            if "".join(buf).strip():
                statements.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    if "".join(buf).strip():
        statements.append("".join(buf).strip())
    return statements


async def applied(conn: Any) -> set[str]:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version text PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    rows = await conn.fetch("SELECT version FROM schema_migrations")
    return {r["version"] for r in rows}


async def migrate(dsn: str, directory: Path) -> list[str]:
    """Apply pending migrations; return the names applied."""
    pending = discover(directory)
    conn = await asyncpg.connect(dsn)
    done: list[str] = []
    try:
        # One migrator at a time, even with two `make` runs racing.
        await conn.execute("SELECT pg_advisory_lock(72010086)")
        have = await applied(conn)
        for mig in pending:
            if mig.version in have:
                continue
            await _apply_one(conn, mig)
            done.append(mig.path.name)
    finally:
        await conn.close()
    return done


async def _apply_one(conn: Any, mig: Migration) -> None:
    statements = split_statements(mig.path.read_text())
    async with conn.transaction():
        for n, stmt in enumerate(statements, 1):
            try:
                await conn.execute(stmt)
            except asyncpg.PostgresError as exc:
                first = " ".join(stmt.split())[:160]
                raise MigrationError(
                    f"{mig.path.name}: statement {n} failed: {exc}\n  {first}"
                ) from exc
        await conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            mig.version,
            mig.path.name,
        )

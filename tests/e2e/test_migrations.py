"""Migrations against the real PostgreSQL: order, idempotence, atomic failure."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from agi_app.adapters.postgres.migrate import MigrationError, discover, migrate, split_statements
from agi_app.settings import Settings


@pytest.fixture
async def scratch_dsn(stack: Settings) -> AsyncIterator[str]:
    name = f"migr_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(stack.pg_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield stack.pg_dsn.rsplit("/", 1)[0] + "/" + name
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def test_apply_in_order_then_noop(scratch_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (x int);")
    (tmp_path / "0002_b.sql").write_text("INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);")
    assert await migrate(scratch_dsn, tmp_path) == ["0001_a.sql", "0002_b.sql"]
    assert await migrate(scratch_dsn, tmp_path) == []
    conn = await asyncpg.connect(scratch_dsn)
    assert await conn.fetchval("SELECT count(*) FROM a") == 2
    await conn.close()


async def test_failing_migration_leaves_database_unchanged(
    scratch_dsn: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (x int);")
    (tmp_path / "0002_bad.sql").write_text(
        "CREATE TABLE b (y int);\nINSERT INTO nowhere VALUES (1);"
    )
    with pytest.raises(MigrationError, match=r"0002_bad.sql: statement 2 failed.*nowhere"):
        await migrate(scratch_dsn, tmp_path)
    conn = await asyncpg.connect(scratch_dsn)
    assert await conn.fetchval("SELECT to_regclass('b')") is None  # rolled back
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 1
    await conn.close()


async def test_shipped_migrations_apply_cleanly(scratch_dsn: str) -> None:
    shipped = Path(__file__).resolve().parents[2] / "migrations"
    applied = await migrate(scratch_dsn, shipped)
    assert applied == [m.path.name for m in discover(shipped)]


def test_split_statements_respects_quotes_and_dollar_bodies() -> None:
    sql = (
        "SELECT ';'; -- a ; comment\n"
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;"
    )
    assert split_statements(sql) == [
        "SELECT ';'",
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
    ]


def test_bad_file_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_x.sql").write_text("")
    with pytest.raises(MigrationError, match=r"0001_some_name\.sql"):
        discover(tmp_path)

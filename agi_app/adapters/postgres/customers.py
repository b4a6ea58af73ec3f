"""The CRM in PostgreSQL: one parameterised query per lookup, through the pool
(the deadline is the caller's: agi_app.service.identify); the CSV upsert."""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any

from agi_app.adapters.postgres.pool import Database
from agi_app.core.customer import Customer

log = logging.getLogger(__name__)

LOOKUP_COLUMNS = tuple(f.name for f in fields(Customer))  # the table's columns of that name
LOOKUP_SQL = f"SELECT {', '.join(LOOKUP_COLUMNS)} FROM customers WHERE number = $1"


def customer_from_row(row: Any) -> Customer:
    return Customer(
        number=row["number"],
        name=row["name"],
        grade=row["grade"],
        brand=row["brand"],
        tags=frozenset(row["tags"] or ()),
        language=row["language"],
        bill_day=row["bill_day"],
        status=row["status"],
        last_agent=row["last_agent"],
        last_contact_at=row["last_contact_at"],
    )


class PgCustomerStore:
    """The CRM in PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def lookup(self, number_e164: str) -> Customer | None:
        pool = await self.db.pool()
        if pool is None:
            raise ConnectionError("database unavailable")
        row = await pool.fetchrow(LOOKUP_SQL, number_e164)
        return None if row is None else customer_from_row(row)


UPSERT = (
    "INSERT INTO customers (number, name, grade, brand, tags, language, bill_day, status,"
    " last_agent, last_contact_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10, now())"
    " ON CONFLICT (number) DO UPDATE SET name = EXCLUDED.name, grade = EXCLUDED.grade,"
    " brand = EXCLUDED.brand, tags = EXCLUDED.tags, language = EXCLUDED.language,"
    " bill_day = EXCLUDED.bill_day, status = EXCLUDED.status, last_agent = EXCLUDED.last_agent,"
    " last_contact_at = EXCLUDED.last_contact_at, updated_at = now()"
)


async def upsert(conn: Any, rows: list[tuple[Any, ...]]) -> int:
    """Upsert rows in one transaction (re-running the same file changes nothing)."""
    async with conn.transaction():
        await conn.executemany(UPSERT, rows)
    return len(rows)

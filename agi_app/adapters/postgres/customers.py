"""Looking up the caller: one parameterised query per call through the pool.

If PostgreSQL is down, or slower than the deadline, the call goes on as an
unknown caller and the journey says ``lookup_failed``; nothing raises.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from agi_app.adapters.postgres.pool import Database
from agi_app.core.customer import Customer
from agi_app.core.numbers import normalise
from agi_app.service.call import Identity

log = logging.getLogger(__name__)

LOOKUP_SQL = (
    "SELECT number, name, grade, brand, tags, language, bill_day, status, last_agent,"
    " last_contact_at FROM customers WHERE number = $1"
)


class CustomerStore(Protocol):
    async def lookup(self, number_e164: str) -> Customer | None: ...


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


async def identify(store: CustomerStore, raw_caller: str, deadline_s: float) -> Identity:
    """Who is calling; never raises, never takes longer than ``deadline_s``."""
    e164 = normalise(raw_caller)
    if e164 is None:
        return Identity(None, None, "unknown")
    try:
        async with asyncio.timeout(deadline_s):
            customer = await store.lookup(e164)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # any failure of the CRM: serve the caller as unknown
        log.warning("customer lookup failed for %s: %s", e164, exc or type(exc).__name__)
        return Identity(None, e164, "lookup_failed")
    return Identity(customer, e164, "ok" if customer else "unknown")

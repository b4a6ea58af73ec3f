"""The caller's recent journeys from PostgreSQL, as the complaint-risk signals
(the query is agi_app.service.risk_signals')."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from agi_app.adapters.postgres.customers import LOOKUP_COLUMNS, customer_from_row
from agi_app.core.customer import Customer
from agi_app.core.risk import CallerHistory
from agi_app.service.risk_signals import HISTORY_SQL, history_from_row

# The history's one aggregate row, with the customer's columns beside it (NULL
# when the number is not in the CRM): both reads in one statement.
JOINT_SQL = (
    f"SELECT h.*, {', '.join('c.' + c for c in LOOKUP_COLUMNS)}"
    f" FROM ({HISTORY_SQL}) AS h LEFT JOIN customers c ON c.number = $1"
)


class PgRiskHistory:
    """``history(e164, now)`` for service.identify."""

    def __init__(self, get_pool: Callable[[], Awaitable[Any]]) -> None:
        self.get_pool = get_pool

    async def history(self, number_e164: str, now: datetime) -> CallerHistory:
        pool = await self.get_pool()
        if pool is None:
            raise ConnectionError("database unavailable")
        row = await pool.fetchrow(HISTORY_SQL, number_e164, now)
        return history_from_row(row)


class PgCustomerWithHistory:
    """``lookup_with_history(e164, now)`` for service.identify: one round trip."""

    def __init__(self, get_pool: Callable[[], Awaitable[Any]]) -> None:
        self.get_pool = get_pool

    async def lookup_with_history(
        self, number_e164: str, now: datetime
    ) -> tuple[Customer | None, CallerHistory]:
        pool = await self.get_pool()
        if pool is None:
            raise ConnectionError("database unavailable")
        row = await pool.fetchrow(JOINT_SQL, number_e164, now)
        customer = None if row["number"] is None else customer_from_row(row)
        return customer, history_from_row(row)

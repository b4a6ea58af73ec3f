"""The caller's recent journeys from PostgreSQL, as the complaint-risk signals
(the query is agi_app.service.risk_signals')."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from agi_app.core.risk import CallerHistory
from agi_app.service.risk_signals import HISTORY_SQL, history_from_row


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

"""The callback worker: dials customers back when their queue has a free agent.

A callback is dialled only when the queue has an available agent and nobody
waiting, so it never jumps ahead of callers who have waited longer; among
callbacks the oldest request goes first. The customer's phone is reached
through the ``pstn`` trunk; once answered the channel continues into
``[hotline-callback]`` (the queue) and comes back to us afterwards. A call
that is not answered is retried after ``retry_delay_s`` up to ``max_attempts``.

The worker dials through a ``Dialer`` (core.callcontrol; ARI in production)
and learns what became of its calls from ``on_started`` / ``on_gone``, which
the ARI adapter calls for the channels ``owns`` claims.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from agi_app.core.callcontrol import Dialer, DialError
from agi_app.core.shedding.load import QueueLoad

log = logging.getLogger(__name__)

CLAIM_SQL = """
UPDATE callbacks SET state = 'dialing', attempts = attempts + 1, last_attempt_at = now()
WHERE id = (SELECT id FROM callbacks WHERE state = 'pending' AND queue = $1
            AND not_before <= now() ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, number, queue, priority, attempts, max_attempts, retry_delay_s
"""
RESULT_SQL = """
UPDATE callbacks SET state = $2, last_result = $3, call_id = COALESCE($4, call_id),
       not_before = now() + make_interval(secs => $5)
WHERE id = $1
"""


@dataclass
class Dialing:
    callback_id: int
    channel_id: str
    attempts: int
    max_attempts: int
    retry_delay_s: int
    answered: bool = False


class CallbackWorker:
    def __init__(
        self,
        get_pool: Callable[[], Awaitable[Any]],
        dialer: Dialer,
        queues: Callable[[], Mapping[str, QueueLoad]],
        trunk: str = "pstn",
        interval_s: float = 1.0,
        queue_timeout_s: int = 120,
    ) -> None:
        self.get_pool, self.dialer, self.queues = get_pool, dialer, queues
        self.trunk, self.interval_s, self.queue_timeout_s = trunk, interval_s, queue_timeout_s
        self.dialing: dict[str, Dialing] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def owns(self, channel_id: str) -> bool:
        return channel_id in self.dialing

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except (OSError, asyncpg.PostgresError) as exc:  # database down: try again later
                log.warning("callback worker: %s", exc or type(exc).__name__)
            except Exception:  # the worker must outlive a bad tick
                log.exception("callback worker tick failed")
            await asyncio.sleep(self.interval_s)

    async def tick(self) -> None:
        """Dial at most one callback per queue that has a free agent and no one waiting."""
        pool = await self.get_pool()
        if pool is None:
            return
        for queue, load in self.queues().items():
            busy = sum(1 for d in self.dialing.values() if not d.answered)
            if load.available - busy <= 0 or load.waiting > 0:
                continue
            row = await pool.fetchrow(CLAIM_SQL, queue)
            if row is not None:
                await self._dial(pool, dict(row))

    async def _dial(self, pool: Any, row: dict[str, Any]) -> None:
        channel_id = f"callback-{row['id']}-{uuid.uuid4().hex[:8]}"
        self.dialing[channel_id] = Dialing(
            row["id"], channel_id, row["attempts"], row["max_attempts"], row["retry_delay_s"]
        )
        number = row["number"].lstrip("+")
        log.info("callback %s: dialling %s for queue %s", row["id"], row["number"], row["queue"])
        try:
            await self.dialer.originate(
                f"PJSIP/{number}@{self.trunk}",
                caller_id=row["queue"],
                timeout_s=30,
                app_args=f"callback,{row['id']}",
                channel_id=channel_id,
                variables={
                    "AGI_APP_QUEUE": row["queue"],
                    "QUEUE_PRIO": str(row["priority"]),
                    "AGI_APP_QUEUE_TIMEOUT": str(self.queue_timeout_s),
                    "AGI_APP_CALLBACK_ID": str(row["id"]),
                },
            )
        except (DialError, OSError) as exc:
            await self._failed(self.dialing.pop(channel_id), f"originate: {exc}")

    def on_started(self, channel_id: str, args: tuple[str, ...]) -> None:
        """A channel this worker dialled entered the application (answered, or back
        from the queue)."""
        dialing = self.dialing.get(channel_id)
        if dialing is None:
            return
        if args[:1] == ("callback",):
            dialing.answered = True
            self._spawn(self._connect(dialing))
        elif args[:1] == ("after-callback",):
            self._spawn(self.dialer.hangup(channel_id, 16))

    def on_gone(self, channel_id: str, cause: int | None) -> None:
        """A channel this worker dialled hung up or was destroyed."""
        dialing = self.dialing.pop(channel_id, None)
        if dialing is not None and not dialing.answered:
            self._spawn(self._failed(dialing, f"not answered (cause {cause})"))

    async def _connect(self, d: Dialing) -> None:
        await self.dialer.connect(d.channel_id, "hotline-callback")
        await self._record(d.callback_id, "connected", "answered", d.channel_id, 0)

    async def _failed(self, d: Dialing, why: str) -> None:
        final = d.attempts >= d.max_attempts
        log.warning(
            "callback %s attempt %d: %s%s",
            d.callback_id,
            d.attempts,
            why,
            "; giving up" if final else "",
        )
        await self._record(
            d.callback_id, "failed" if final else "pending", why, None, d.retry_delay_s
        )

    async def _record(
        self, cid: int, state: str, result: str, call_id: str | None, delay_s: int
    ) -> None:
        pool = await self.get_pool()
        if pool is not None:
            await pool.execute(RESULT_SQL, cid, state, result[:200], call_id, float(delay_s))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

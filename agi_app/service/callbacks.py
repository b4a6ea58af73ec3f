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

Several nodes: only the leader (``core.cluster.Leadership``) claims and dials.
A claim is one statement that moves a row from ``pending`` to ``dialing``
under ``FOR UPDATE SKIP LOCKED`` and checks the leader's token in the
database at that moment (the session holding the lock is the one this node
took it with): two workers can never claim the same row, and a node that has
lost leadership cannot claim even before it notices. A node that loses
leadership keeps following the calls it already dialled. A row stays
``dialing`` only while its attempt may be alive: the leader gives it back
(``pending`` after its retry delay, or ``failed`` after the last attempt) once
the ring time is long past *and* the node instance that dialled it has
stopped beating (``nodes``): a dead leader's attempt is retried, a live node's
never taken from it. An answered callback is recorded ``connected`` before
it is sent to the queue, so a node dying in between cannot leave a connected
customer looking lost. A callback answered after the process that dialled it
restarted reaches the new process (same ARI application): it is adopted (put
through to the queue) if its row is still ``dialing``, else hung up.
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
from agi_app.core.cluster import Leadership
from agi_app.core.shedding.load import QueueLoad
from agi_app.core.text import is_ascii_digits

log = logging.getLogger(__name__)

# $3-$6: the leader's token (NULL when no leadership is in use: one node).
CLAIM_SQL = """
UPDATE callbacks SET state = 'dialing', attempts = attempts + 1, last_attempt_at = now(),
       dialed_by = $2
WHERE id = (SELECT id FROM callbacks WHERE state = 'pending' AND queue = $1
            AND not_before <= now() ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
  AND state = 'pending'
  AND ($3::integer IS NULL OR EXISTS (
        SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.classid = $4::integer::oid AND l.objid = $5::integer::oid
          AND l.pid = $3 AND a.backend_start = $6))
RETURNING id, number, queue, priority, attempts, max_attempts, retry_delay_s
"""
# Attempts whose node instance is gone ($1: seconds after the attempt; $2: the
# instance's heartbeat older than this many seconds; $3: this worker's instance).
RECOVER_SQL = """
UPDATE callbacks c
SET state = CASE WHEN c.attempts >= c.max_attempts THEN 'failed' ELSE 'pending' END,
    last_result = 'attempt lost with node instance ' || COALESCE(c.dialed_by, '?'),
    not_before = now() + make_interval(secs => c.retry_delay_s)
WHERE c.state = 'dialing' AND c.last_attempt_at < now() - make_interval(secs => $1)
  AND c.dialed_by IS DISTINCT FROM $3
  AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.instance = c.dialed_by
                  AND n.stopped_at IS NULL AND n.last_seen > now() - make_interval(secs => $2))
RETURNING c.id, c.state, c.dialed_by
"""
ADOPT_SQL = """
UPDATE callbacks SET state = 'connected', last_result = 'answered (adopted)', call_id = $2
WHERE id = $1 AND state = 'dialing'
RETURNING id
"""
CHANNEL_PREFIX = "callback-"  # every channel the worker dials: callback-<id>-<random>
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
        *,
        leadership: Leadership | None = None,  # None: this is the only worker
        instance: str | None = None,  # this node instance (recorded on each attempt)
        ring_timeout_s: int = 30,
        node_silent_s: float = 10.0,  # a node instance this silent is gone
        recover_every_s: float = 5.0,
    ) -> None:
        self.get_pool, self.dialer, self.queues = get_pool, dialer, queues
        self.trunk, self.interval_s, self.queue_timeout_s = trunk, interval_s, queue_timeout_s
        self.leadership, self.instance = leadership, instance
        self.ring_timeout_s, self.node_silent_s = ring_timeout_s, node_silent_s
        self.recover_every_s = recover_every_s
        self.dialing: dict[str, Dialing] = {}
        self.recovered = 0
        self._last_recovery = -1e9
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def leader(self) -> bool:
        """This worker may claim callbacks now."""
        return self.leadership is None or self.leadership.leader

    def owns(self, channel_id: str) -> bool:
        """A channel this worker dialled and still follows."""
        return channel_id in self.dialing

    def handles(self, channel_id: str) -> bool:
        """Channels whose events come here: the ones it follows, and any callback
        channel (one an earlier run of this process dialled, say)."""
        return channel_id in self.dialing or channel_id.startswith(CHANNEL_PREFIX)

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
        if self.leadership is not None and self.leadership.token() is None:
            return  # not the leader: the leader dials
        pool = await self.get_pool()
        if pool is None:
            return
        await self._recover(pool)
        for queue, load in self.queues().items():
            busy = sum(1 for d in self.dialing.values() if not d.answered)
            if load.available - busy <= 0 or load.waiting > 0:
                continue
            fence = self._fence()
            if fence is None:
                return  # leadership lost during this tick: stop at once
            row = await pool.fetchrow(CLAIM_SQL, queue, self.instance, *fence)
            if row is not None:
                await self._dial(pool, dict(row))

    def _fence(self) -> tuple[Any, ...] | None:
        """CLAIM_SQL's $3-$6: the leader's token; None once leadership is lost."""
        if self.leadership is None:
            return (None, None, None, None)
        token = self.leadership.token()
        if token is None:
            return None
        return (token.pid, token.lock[0], token.lock[1], token.since)

    async def _recover(self, pool: Any) -> None:
        """Give back the attempts of node instances that are gone (every few seconds)."""
        now = asyncio.get_running_loop().time()
        if now - self._last_recovery < self.recover_every_s:
            return
        self._last_recovery = now
        lost_after = float(self.ring_timeout_s * 2)  # well past any ringing
        rows = await pool.fetch(RECOVER_SQL, lost_after, self.node_silent_s, self.instance)
        for r in rows:
            self.recovered += 1
            log.warning(
                "callback %s: its attempt was lost with node instance %s; now %s",
                r["id"],
                r["dialed_by"],
                r["state"],
            )

    async def _dial(self, pool: Any, row: dict[str, Any]) -> None:
        channel_id = f"{CHANNEL_PREFIX}{row['id']}-{uuid.uuid4().hex[:8]}"
        self.dialing[channel_id] = Dialing(
            row["id"], channel_id, row["attempts"], row["max_attempts"], row["retry_delay_s"]
        )
        number = row["number"].lstrip("+")
        log.info("callback %s: dialling %s for queue %s", row["id"], row["number"], row["queue"])
        try:
            await self.dialer.originate(
                f"PJSIP/{number}@{self.trunk}",
                caller_id=row["queue"],
                timeout_s=self.ring_timeout_s,
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
            if channel_id.startswith(CHANNEL_PREFIX):
                self._spawn(self._orphan(channel_id, args))
            return
        if args[:1] == ("callback",) and not dialing.answered:  # once (a reconcile repeats it)
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
        try:  # recorded first: a customer in the queue is never dialled again
            await self._record(d.callback_id, "connected", "answered", d.channel_id, 0)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("callback %s: answered, not recorded: %s", d.callback_id, exc)
        await self.dialer.connect(d.channel_id, "hotline-callback")

    async def _orphan(self, channel_id: str, args: tuple[str, ...]) -> None:
        """A callback channel an earlier run of this process dialled: adopt it when
        it was just answered and its row still says ``dialing``, else end it."""
        if args[:1] == ("callback",) and len(args) > 1 and is_ascii_digits(args[1]):
            pool = await self.get_pool()
            row = None if pool is None else await pool.fetchrow(ADOPT_SQL, int(args[1]), channel_id)
            if row is not None:
                log.warning("callback %s: answered after its dialler restarted; adopted", args[1])
                self.dialing[channel_id] = Dialing(int(args[1]), channel_id, 0, 0, 0, True)
                await self.dialer.connect(channel_id, "hotline-callback")
                return
        log.warning("callback channel %s %s is nobody's; hanging up", channel_id, args)
        await self.dialer.hangup(channel_id, 16)

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

"""The callback worker with a fake Dialer (the core.callcontrol protocol) and a
fake pool at the asyncpg edge that plays the ``callbacks`` table.

The fake table answers the worker's statements as PostgreSQL would:
CLAIM_SQL takes the oldest due pending row of a queue and marks it dialling
(attempts + 1, by this node instance) if the leader's token names the session
holding the lock (``lock_holder`` plays pg_locks); RESULT_SQL sets state,
result, call id and the next due time; RECOVER_SQL gives back the attempts of
instances that stopped beating (``alive`` plays the nodes table). Time in the
table is a number the test moves, so retries need no waiting.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from agi_app.core.callcontrol import DialError
from agi_app.core.cluster import LeaderToken
from agi_app.core.shedding.load import QueueLoad
from agi_app.service.callbacks import (
    ADOPT_SQL,
    CLAIM_SQL,
    RECOVER_SQL,
    RESULT_SQL,
    CallbackWorker,
)

FREE = QueueLoad(waiting=0, available=1, logged_in=2)


@dataclass
class Row:
    id: int
    number: str
    queue: str
    priority: int = 0
    requested_at: float = 0.0
    not_before: float = 0.0
    attempts: int = 0
    max_attempts: int = 3
    retry_delay_s: int = 300
    state: str = "pending"
    last_result: str | None = None
    call_id: str | None = None
    dialed_by: str | None = None
    last_attempt_at: float | None = None


@dataclass
class CallbacksTable:
    """A fake asyncpg pool holding the callbacks table."""

    rows: dict[int, Row] = field(default_factory=dict)
    now: float = 1000.0
    claims: list[str] = field(default_factory=list)  # the queue of each CLAIM_SQL
    results: list[tuple[Any, ...]] = field(default_factory=list)  # RESULT_SQL arguments
    lock_holder: int | None = None  # the backend pid holding the leader lock
    alive: set[str] = field(default_factory=set)  # instances heard from lately
    log: list[str] = field(default_factory=list)  # statements and dialer calls, in order

    def add(self, number: str, queue: str = "support", **kw: Any) -> Row:
        row = Row(len(self.rows) + 1, number, queue, requested_at=self.now, **kw)
        self.rows[row.id] = row
        self.now += 1
        return row

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        if sql == ADOPT_SQL:
            cid, channel = args
            row = self.rows.get(cid)
            if row is None or row.state != "dialing":
                return None
            row.state, row.call_id, row.last_result = "connected", channel, "answered (adopted)"
            return {"id": cid}
        return await self.claim(sql, *args)

    async def claim(self, sql: str, queue: str, instance: str | None, *fence: Any) -> Any:
        assert sql == CLAIM_SQL and len(fence) == 4
        self.claims.append(queue)
        pid = fence[0]
        if pid is not None and pid != self.lock_holder:
            return None  # the fence: that session does not hold the lock
        due = [
            r
            for r in self.rows.values()
            if r.state == "pending" and r.queue == queue and r.not_before <= self.now
        ]
        if not due:
            return None
        row = min(due, key=lambda r: r.requested_at)
        row.state, row.attempts = "dialing", row.attempts + 1
        row.dialed_by, row.last_attempt_at = instance, self.now
        keys = ("id", "number", "queue", "priority", "attempts", "max_attempts", "retry_delay_s")
        return {k: getattr(row, k) for k in keys}

    async def fetch(self, sql: str, lost_after: float, silent: float, me: str | None) -> Any:
        assert sql == RECOVER_SQL and isinstance(lost_after, float)
        given = []
        for r in self.rows.values():
            if r.state != "dialing" or r.dialed_by == me or r.dialed_by in self.alive:
                continue
            if r.last_attempt_at is None or r.last_attempt_at >= self.now - lost_after:
                continue
            r.state = "failed" if r.attempts >= r.max_attempts else "pending"
            r.not_before = self.now + r.retry_delay_s
            r.last_result = f"attempt lost with node instance {r.dialed_by}"
            given.append({"id": r.id, "state": r.state, "dialed_by": r.dialed_by})
        return given

    async def execute(self, sql: str, *args: Any) -> str:
        assert sql == RESULT_SQL
        self.results.append(args)
        self.log.append(f"record {args[1]}")
        cid, state, result, call_id, delay_s = args
        assert isinstance(delay_s, float)  # make_interval(secs => $5) takes a double
        row = self.rows[cid]
        row.state, row.last_result = state, result
        row.call_id = call_id if call_id is not None else row.call_id
        row.not_before = self.now + delay_s
        return "UPDATE 1"


@dataclass
class Originated:
    endpoint: str
    caller_id: str
    timeout_s: int
    app_args: str
    channel_id: str
    variables: dict[str, str]


class FakeDialer:
    """Dialer that records what it was asked; ``refuse`` makes originate fail."""

    def __init__(self) -> None:
        self.originated: list[Originated] = []
        self.connected: list[tuple[str, str]] = []
        self.hung_up: list[tuple[str, int]] = []
        self.refuse: Exception | None = None
        self.log: list[str] | None = None

    async def originate(
        self,
        endpoint: str,
        *,
        caller_id: str,
        timeout_s: int,
        app_args: str,
        channel_id: str,
        variables: dict[str, str],
    ) -> None:
        self.originated.append(
            Originated(endpoint, caller_id, timeout_s, app_args, channel_id, variables)
        )
        if self.refuse is not None:
            raise self.refuse

    async def connect(self, channel_id: str, context: str) -> None:
        self.connected.append((channel_id, context))
        if self.log is not None:
            self.log.append("connect")

    async def hangup(self, channel_id: str, cause: int) -> None:
        self.hung_up.append((channel_id, cause))


class Setup:
    def __init__(self) -> None:
        self.table = CallbacksTable()
        self.dialer = FakeDialer()
        self.loads: dict[str, QueueLoad] = {"support": FREE}
        self.pool_up = True
        self.worker = CallbackWorker(
            self.get_pool, self.dialer, lambda: self.loads, queue_timeout_s=90
        )
        self.dialer.log = self.table.log

    async def get_pool(self) -> CallbacksTable | None:
        return self.table if self.pool_up else None

    @property
    def last_channel(self) -> str:
        return self.dialer.originated[-1].channel_id


@pytest.fixture
def s() -> Setup:
    return Setup()


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    """Wait for the worker's spawned tasks to show their effect (poll, with a deadline)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_a_free_agent_and_nobody_waiting_dials_the_customer(s: Setup) -> None:
    row = s.table.add("+8613800000005", priority=7)
    await s.worker.tick()
    (o,) = s.dialer.originated
    assert o.endpoint == "PJSIP/8613800000005@pstn"
    assert (o.caller_id, o.timeout_s, o.app_args) == ("support", 30, f"callback,{row.id}")
    assert o.channel_id.startswith(f"callback-{row.id}-")
    assert o.variables == {
        "AGI_APP_QUEUE": "support",
        "QUEUE_PRIO": "7",
        "AGI_APP_QUEUE_TIMEOUT": "90",
        "AGI_APP_CALLBACK_ID": str(row.id),
    }
    assert s.worker.owns(o.channel_id) and not s.worker.owns("some-other-call")
    assert (row.state, row.attempts) == ("dialing", 1)


@pytest.mark.parametrize(
    "load",
    [
        QueueLoad(waiting=1, available=1, logged_in=2),  # a caller waits longer
        QueueLoad(waiting=0, available=0, logged_in=2),  # every agent busy
        QueueLoad(waiting=3, available=0, logged_in=2),
        QueueLoad(),  # nobody logged in
    ],
)
async def test_no_dial_unless_an_agent_is_free_and_nobody_waits(s: Setup, load: QueueLoad) -> None:
    row = s.table.add("+8613800000005")
    s.loads = {"support": load}
    await s.worker.tick()
    assert s.dialer.originated == [] and s.table.claims == []  # not even claimed
    assert row.state == "pending" and row.attempts == 0


async def test_a_ringing_callback_holds_the_free_agent(s: Setup) -> None:
    s.table.add("+8613800000005")
    s.table.add("+8613800000006")
    await s.worker.tick()
    await s.worker.tick()  # one agent free, already taken by the ringing callback
    assert len(s.dialer.originated) == 1
    s.loads = {"support": QueueLoad(available=2, logged_in=2)}
    await s.worker.tick()
    assert [o.endpoint for o in s.dialer.originated] == [
        "PJSIP/8613800000005@pstn",
        "PJSIP/8613800000006@pstn",
    ]  # the oldest request first


async def test_the_oldest_due_request_goes_first_per_queue(s: Setup) -> None:
    later = s.table.add("+8613800000002")
    s.table.add("+8613800000003", queue="billing")
    older = s.table.add("+8613800000001")
    older.requested_at = later.requested_at - 10
    s.table.add("+8613800000004", not_before=s.table.now + 60)  # not due yet
    await s.worker.tick()
    assert [o.endpoint for o in s.dialer.originated] == ["PJSIP/8613800000001@pstn"]
    assert s.table.claims == ["support"]  # billing has no load figures: not asked


async def test_no_pool_no_dial(s: Setup) -> None:
    s.table.add("+8613800000005")
    s.pool_up = False
    await s.worker.tick()
    assert s.dialer.originated == [] and s.table.claims == []


async def test_answered_connects_to_the_callback_context(s: Setup) -> None:
    row = s.table.add("+8613800000005")
    await s.worker.tick()
    channel = s.last_channel
    s.worker.on_started(channel, ("callback", str(row.id)))
    await until(lambda: row.state == "connected")
    assert s.dialer.connected == [(channel, "hotline-callback")]
    assert (row.last_result, row.call_id) == ("answered", channel)
    # Answered: the agent it will take no longer counts as held by a ringing call.
    s.table.add("+8613800000006")
    await s.worker.tick()
    assert len(s.dialer.originated) == 2
    # Back from the queue: the worker ends the call; once gone, it is forgotten.
    s.worker.on_started(channel, ("after-callback", "CONTINUE"))
    await until(lambda: bool(s.dialer.hung_up))
    assert s.dialer.hung_up == [(channel, 16)]
    s.worker.on_gone(channel, 16)
    assert not s.worker.owns(channel)
    assert row.state == "connected" and len(s.table.results) == 1  # no failure recorded


async def test_unanswered_is_retried_later_then_failed_after_max_attempts(s: Setup) -> None:
    row = s.table.add("+8613800000005", max_attempts=2, retry_delay_s=300)
    await s.worker.tick()
    first = s.last_channel
    s.worker.on_gone(first, 19)  # no answer
    await until(lambda: row.state == "pending")
    assert row.last_result == "not answered (cause 19)" and row.attempts == 1
    assert row.not_before == s.table.now + 300 and not s.worker.owns(first)
    await s.worker.tick()  # not due yet
    assert len(s.dialer.originated) == 1
    s.table.now += 300
    await s.worker.tick()
    second = s.last_channel
    assert second != first and row.attempts == 2
    s.worker.on_gone(second, 17)  # busy
    await until(lambda: row.state == "failed")
    assert row.last_result == "not answered (cause 17)"
    s.table.now += 3600
    await s.worker.tick()
    assert len(s.dialer.originated) == 2  # given up: never dialled again


@pytest.mark.parametrize(
    "refusal",
    [DialError("ARI POST /channels: 400 Allocation failed"), ConnectionResetError("reset")],
    ids=["dial-error", "os-error"],
)
async def test_a_refused_originate_records_a_failure(s: Setup, refusal: Exception) -> None:
    row = s.table.add("+8613800000005", max_attempts=3, retry_delay_s=60)
    s.dialer.refuse = refusal
    await s.worker.tick()
    channel = s.last_channel
    assert not s.worker.owns(channel)  # no call to wait for
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_result == f"originate: {refusal}"
    assert row.not_before == s.table.now + 60
    s.dialer.refuse = None
    other = s.table.add("+8613800000006")
    await s.worker.tick()  # the failed call holds no agent; the retry is not due yet
    assert s.dialer.originated[-1].app_args == f"callback,{other.id}"
    s.worker.on_started(s.last_channel, ("callback", str(other.id)))
    await until(lambda: other.state == "connected")
    s.table.now += 60
    await s.worker.tick()
    assert s.dialer.originated[-1].app_args == f"callback,{row.id}" and row.attempts == 2


async def test_a_refused_last_attempt_gives_up(s: Setup) -> None:
    row = s.table.add("+8613800000005", attempts=2, max_attempts=3)
    s.dialer.refuse = DialError("no route")
    await s.worker.tick()
    assert (row.state, row.attempts, row.last_result) == ("failed", 3, "originate: no route")


async def test_events_of_channels_it_did_not_dial_are_ignored(s: Setup) -> None:
    s.worker.on_started("someone-else", ("callback", "1"))
    s.worker.on_gone("someone-else", 16)
    await s.worker.tick()  # no rows: nothing to dial either
    assert s.dialer.connected == [] and s.dialer.hung_up == [] and s.table.results == []


async def test_the_worker_outlives_a_database_outage(s: Setup) -> None:
    row = s.table.add("+8613800000005")
    asked = 0

    async def flaky_pool() -> CallbacksTable:
        nonlocal asked
        asked += 1
        if asked <= 2:
            raise ConnectionRefusedError("connect call failed")
        return s.table

    worker = CallbackWorker(flaky_pool, s.dialer, lambda: s.loads, interval_s=0.01)
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: bool(s.dialer.originated))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert asked >= 3 and row.state == "dialing"


# -- several nodes: leadership, the fence, attempts lost with their node ---------

SINCE = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


class Leader:
    """A Leadership (core.cluster) the test hands over and takes back."""

    def __init__(self, pid: int | None = None) -> None:
        self._token = None if pid is None else LeaderToken((1, 1), pid, SINCE)

    @property
    def leader(self) -> bool:
        return self._token is not None

    def token(self) -> LeaderToken | None:
        return self._token


def node(s: Setup, name: str, leader: Leader) -> CallbackWorker:
    return CallbackWorker(s.get_pool, s.dialer, lambda: s.loads, leadership=leader, instance=name)


async def test_only_the_leader_claims(s: Setup) -> None:
    row = s.table.add("+8613800000005")
    s.table.lock_holder = 41
    follower = node(s, "b/2/x", Leader())
    await follower.tick()
    assert s.table.claims == [] and not follower.leader  # not even asked
    leader = node(s, "a/1/x", Leader(41))
    await leader.tick()
    assert (row.state, row.dialed_by) == ("dialing", "a/1/x") and leader.leader
    assert len(s.dialer.originated) == 1


async def test_a_leader_whose_lock_is_gone_cannot_claim(s: Setup) -> None:
    """It still believes it leads, but the session holding the lock is another
    (the server released ours, another node took it): the fence refuses."""
    row = s.table.add("+8613800000005")
    s.table.lock_holder = 99  # the new leader's session
    stale = node(s, "a/1/x", Leader(41))
    await stale.tick()
    assert s.table.claims == ["support"] and s.dialer.originated == []
    assert row.state == "pending" and row.attempts == 0


async def test_leadership_lost_between_queues_stops_at_once(s: Setup) -> None:
    s.table.add("+8613800000005", queue="support")
    s.table.add("+8613800000006", queue="billing")
    s.loads = {"support": FREE, "billing": FREE}
    s.table.lock_holder = 41
    leadership = Leader(41)
    worker = node(s, "a/1/x", leadership)

    async def originate_then_lose(*args: Any, **kw: Any) -> None:
        leadership._token = None  # the connection closed while this call was placed
        await FakeDialer.originate(s.dialer, *args, **kw)

    s.dialer.originate = originate_then_lose  # type: ignore[method-assign]
    await worker.tick()
    assert s.table.claims == ["support"] and len(s.dialer.originated) == 1


@pytest.mark.parametrize(
    ("dialed_by", "age", "attempts", "after"),
    [
        ("dead/1/x", 61, 1, "pending"),  # its node stopped beating: retried later
        ("dead/1/x", 61, 3, "failed"),  # that was the last attempt
        ("dead/1/x", 30, 1, "dialing"),  # it may still ring
        ("live/2/x", 3600, 1, "dialing"),  # its node is alive: its own to finish
        ("me/3/x", 3600, 1, "dialing"),  # ours: our own events finish it
    ],
)
async def test_an_attempt_lost_with_its_node_is_given_back(
    s: Setup, dialed_by: str, age: float, attempts: int, after: str
) -> None:
    row = s.table.add("+8613800000005", attempts=attempts, retry_delay_s=300)
    row.state, row.dialed_by, row.last_attempt_at = "dialing", dialed_by, s.table.now - age
    s.table.alive = {"live/2/x", "me/3/x"}
    s.table.lock_holder = 41
    worker = node(s, "me/3/x", Leader(41))
    s.loads = {}
    await worker.tick()
    assert row.state == after
    if after != "dialing":
        assert row.not_before == s.table.now + 300 and worker.recovered == 1
        assert row.last_result == "attempt lost with node instance dead/1/x"


async def test_a_follower_gives_nothing_back(s: Setup) -> None:
    row = s.table.add("+8613800000005")
    row.state, row.dialed_by, row.last_attempt_at = "dialing", "dead/1/x", s.table.now - 3600
    await node(s, "b/2/x", Leader()).tick()
    assert row.state == "dialing"


async def test_an_answer_is_recorded_before_the_customer_goes_to_the_queue(s: Setup) -> None:
    row = s.table.add("+8613800000005")
    await s.worker.tick()
    s.worker.on_started(s.last_channel, ("callback", str(row.id)))
    await until(lambda: bool(s.dialer.connected))
    assert s.table.log == ["record connected", "connect"]


async def test_a_callback_answered_after_its_dialler_restarted_is_adopted(s: Setup) -> None:
    """The process that dialled it was killed and started again (a new worker):
    the answered customer still goes to the queue, once."""
    row = s.table.add("+8613800000005")
    await s.worker.tick()
    channel = s.last_channel
    restarted = CallbackWorker(s.get_pool, s.dialer, lambda: s.loads)
    assert restarted.handles(channel) and not restarted.owns(channel)  # by its name
    restarted.on_started(channel, ("callback", str(row.id)))
    await until(lambda: bool(s.dialer.connected))
    assert s.dialer.connected == [(channel, "hotline-callback")]
    assert (row.state, row.call_id, row.last_result) == ("connected", channel, "answered (adopted)")
    assert restarted.owns(channel)  # followed from now on
    restarted.on_started(channel, ("after-callback", "CONTINUE"))
    await until(lambda: bool(s.dialer.hung_up))
    assert s.dialer.hung_up == [(channel, 16)]
    restarted.on_gone(channel, 16)
    assert not restarted.owns(channel) and row.state == "connected"


async def test_a_callback_channel_nobody_can_adopt_is_hung_up(s: Setup) -> None:
    row = s.table.add("+8613800000005")
    row.state = "pending"  # given back already (or never dialling)
    restarted = CallbackWorker(s.get_pool, s.dialer, lambda: s.loads)
    channel = f"callback-{row.id}-deadbeef"
    restarted.on_started(channel, ("callback", str(row.id)))
    await until(lambda: bool(s.dialer.hung_up))
    assert s.dialer.hung_up == [(channel, 16)] and s.dialer.connected == []
    assert row.state == "pending"


@pytest.mark.parametrize("arg", ["²", "٣", "", "1 "])
async def test_a_callback_channel_with_a_bad_id_is_hung_up(s: Setup, arg: str) -> None:
    """An id of "²": isdigit() said yes, int() raised, and the channel was left up."""
    restarted = CallbackWorker(s.get_pool, s.dialer, lambda: s.loads)
    channel = "callback-1-deadbeef"
    restarted.on_started(channel, ("callback", arg))
    await until(lambda: bool(s.dialer.hung_up))
    assert s.dialer.hung_up == [(channel, 16)] and s.dialer.connected == []


async def test_an_answer_told_twice_connects_once(s: Setup) -> None:
    """A reconnect's reconcile can tell the worker again about a channel in Stasis."""
    row = s.table.add("+8613800000005")
    await s.worker.tick()
    for _ in range(2):
        s.worker.on_started(s.last_channel, ("callback", str(row.id)))
    await until(lambda: bool(s.dialer.connected))
    await asyncio.gather(*s.worker._tasks)
    assert len(s.dialer.connected) == 1 and len(s.table.results) == 1

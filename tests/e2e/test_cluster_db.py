"""One brain for several nodes, against the real PostgreSQL: advisory-lock
leadership and its takeover, two callback workers on one callbacks table,
heartbeats, a shared reload seen by LISTEN, ``agi-app cluster status --json``.

Each test's leaders take a lock key of their own, so the session's app (which
leads the real callback worker) never competes with them.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from agi_app.adapters.postgres.cluster import PgNotifications, PgSharedStore
from agi_app.adapters.postgres.leader import PgLeader
from agi_app.adapters.postgres.nodes import PgNodeStore
from agi_app.core.clock import BusinessClock
from agi_app.core.cluster import NodeStatus
from agi_app.core.shedding.load import QueueLoad
from agi_app.service.callbacks import CLAIM_SQL, CallbackWorker
from agi_app.service.cluster import ClusterSync
from agi_app.service.heartbeat import Heartbeat
from agi_app.service.shedding import SheddingOverride
from agi_app.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.e2e
CLI = str(PROJECT_ROOT / ".venv/bin/agi-app")


async def until(holds: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``holds()``; fails naming ``what`` after ``timeout``."""
    t0 = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            while not holds():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {what}") from None
    return time.monotonic() - t0


@asynccontextmanager
async def running(*loops: Callable[[], Any]) -> AsyncIterator[list[asyncio.Task[Any]]]:
    tasks = [asyncio.create_task(loop()) for loop in loops]
    try:
        yield tasks
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def leaders(dsn: str, key: int, retry_s: float = 1.0) -> tuple[PgLeader, PgLeader]:
    return tuple(  # type: ignore[return-value]
        PgLeader(dsn, node=n, key=key, retry_s=retry_s, check_s=0.5) for n in ("a", "b")
    )


async def lock_holders(db: Any, key: int) -> list[int]:
    rows = await db.fetch(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND objsubid = 2 AND objid = $1::integer::oid",
        key,
    )
    return [r["pid"] for r in rows]


async def test_two_candidates_exactly_one_leader(stack: Settings, db: Any) -> None:
    key = random.randrange(10_000, 2**30)
    a, b = leaders(stack.pg_dsn, key, retry_s=0.1)
    async with running(a.run, b.run):
        await until(lambda: a.leader or b.leader, 10, "a leader")
        first, other = (a, b) if a.leader else (b, a)
        tries = other.tries
        await until(lambda: other.tries >= tries + 5, 10, "the other tried 5 more times")
        assert first.leader and not other.leader and first.terms == 1
        token = first.token()
        assert token is not None
        assert await lock_holders(db, key) == [token.pid]
    released: list[int] = [token.pid]
    async with asyncio.timeout(10):  # a stopped leader lets the lock go
        while released:
            released = await lock_holders(db, key)
            await asyncio.sleep(0.02)


async def test_leader_connection_killed_the_other_takes_over(stack: Settings, db: Any) -> None:
    key = random.randrange(10_000, 2**30)
    a, b = leaders(stack.pg_dsn, key)  # the production retry: every 1 s
    async with running(a.run, b.run):
        await until(lambda: a.leader or b.leader, 10, "a leader")
        first, other = (a, b) if a.leader else (b, a)
        token = first.token()
        assert token is not None
        t0 = time.monotonic()
        assert await db.fetchval("SELECT pg_terminate_backend($1)", token.pid)
        stepped_down = await until(lambda: not first.leader, 5, "the old leader steps down")
        took_over = await until(lambda: other.leader, 5, "the other takes over")
        print(
            f"\nleader killed: stepped down in {stepped_down:.3f} s, takeover in {took_over:.3f} s"
        )
        assert not first.leader  # and it does not come back while the other leads
        tries = first.tries
        await until(lambda: first.tries >= tries + 2, 10, "the old leader tried again")
        assert not first.leader and other.leader
        new = other.token()
        assert new is not None and await lock_holders(db, key) == [new.pid]
    assert time.monotonic() - t0 < 15


# -- two callback workers, one table ------------------------------------------------


class AnsweringDialer:
    """A Dialer whose customers all answer at once (the worker is told, as ARI would)."""

    def __init__(self) -> None:
        self.worker: CallbackWorker | None = None
        self.dialled: list[int] = []

    async def originate(self, endpoint: str, *, app_args: str, channel_id: str, **_: Any) -> None:
        cid = int(app_args.split(",")[1])
        self.dialled.append(cid)
        assert self.worker is not None
        asyncio.get_running_loop().call_soon(self.worker.on_started, channel_id, ("callback",))

    async def connect(self, channel_id: str, context: str) -> None:
        return None

    async def hangup(self, channel_id: str, cause: int) -> None:
        return None


@pytest.fixture
async def queue(db: Any) -> AsyncIterator[str]:
    """A queue of this test's callbacks (no real queue: no real worker dials them);
    cancelled at the end, so their numbers are free again."""
    name = f"e2e-cluster-{uuid.uuid4().hex[:8]}"
    yield name
    await db.execute("UPDATE callbacks SET state = 'cancelled' WHERE queue = $1", name)


async def add_callbacks(db: Any, queue: str, n: int) -> list[int]:
    prefix = f"+86177{random.randrange(10**4):04d}"
    ids: list[int] = []
    for i in range(n):
        ids.append(
            await db.fetchval(
                "INSERT INTO callbacks (number, queue, requested_at) VALUES ($1, $2, now())"
                " RETURNING id",
                f"{prefix}{i:03d}",
                queue,
            )
        )
    return ids


async def test_two_workers_on_two_nodes_dial_each_callback_once(
    stack: Settings, db: Any, queue: str
) -> None:
    key = random.randrange(10_000, 2**30)
    ids = await add_callbacks(db, queue, 30)
    pool = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=4)

    async def get_pool() -> Any:
        return pool

    nodes = []
    for name, leader in zip(("a", "b"), leaders(stack.pg_dsn, key), strict=True):
        dialer = AnsweringDialer()
        worker = CallbackWorker(
            get_pool,
            dialer,
            lambda: {queue: QueueLoad(available=100, logged_in=100)},
            interval_s=0.05,
            leadership=leader,
            instance=f"{name}/{uuid.uuid4().hex[:6]}",
        )
        dialer.worker = worker
        nodes.append((leader, worker, dialer))
    (la, wa, da), (lb, wb, db_) = nodes
    try:
        async with running(la.run, lb.run, wa.run, wb.run):
            await until(lambda: la.leader or lb.leader, 10, "a leader")
            first, first_dials = (la, da) if la.leader else (lb, db_)
            await until(lambda: len(first_dials.dialled) >= 10, 20, "10 dialled by the leader")
            token = first.token()
            assert token is not None
            await db.execute("SELECT pg_terminate_backend($1)", token.pid)
            await until(lambda: len(da.dialled) + len(db_.dialled) >= len(ids), 30, "all dialled")
            # a few more rounds of both: nothing dialled twice
            ticks = [lb.tries + la.tries]
            await until(lambda: lb.tries + la.tries >= ticks[0] + 3, 10, "more rounds")
    finally:
        await pool.close()
    dialled = da.dialled + db_.dialled
    assert sorted(dialled) == sorted(ids)  # each exactly once
    assert da.dialled and db_.dialled  # the second node took over and went on
    rows = await db.fetch(
        "SELECT state, attempts, dialed_by FROM callbacks WHERE queue = $1", queue
    )
    assert {(r["state"], r["attempts"]) for r in rows} == {("connected", 1)}
    assert {r["dialed_by"] for r in rows} == {wa.instance, wb.instance}


async def test_the_claim_refuses_a_token_that_no_longer_holds_the_lock(
    stack: Settings, db: Any, queue: str
) -> None:
    """The fence in the database: the session named must hold the lock now."""
    key = random.randrange(10_000, 2**30)
    (cid,) = await add_callbacks(db, queue, 1)
    leader = PgLeader(stack.pg_dsn, node="a", key=key)
    async with running(leader.run):
        await until(lambda: leader.leader, 10, "leader")
        token = leader.token()
        assert token is not None
        fence = (token.pid, token.lock[0], token.lock[1], token.since)
        stale = (token.pid + 1, *fence[1:])  # another session
        assert await db.fetchrow(CLAIM_SQL, queue, "x", *stale) is None
        row = await db.fetchrow(CLAIM_SQL, queue, "x", *fence)
        assert row is not None and row["id"] == cid
    back = await db.fetchrow("SELECT state, dialed_by FROM callbacks WHERE id = $1", cid)
    assert (back["state"], back["dialed_by"]) == ("dialing", "x")
    await db.execute("UPDATE callbacks SET state = 'pending' WHERE id = $1", cid)
    assert await db.fetchrow(CLAIM_SQL, queue, "x", *fence) is None  # its session ended


async def test_a_dead_instances_attempt_is_given_back(stack: Settings, db: Any, queue: str) -> None:
    dead, live, recent = await add_callbacks(db, queue, 3)
    live_instance = f"live/{uuid.uuid4().hex[:6]}"
    await db.execute(
        "UPDATE callbacks SET state = 'dialing', attempts = 1, dialed_by = $2,"
        " last_attempt_at = now() - interval '1 hour' WHERE id = $1",
        dead,
        f"dead/{uuid.uuid4().hex[:6]}",
    )
    await db.execute(
        "UPDATE callbacks SET state = 'dialing', attempts = 1, dialed_by = $2,"
        " last_attempt_at = now() - interval '1 hour' WHERE id = $1",
        live,
        live_instance,
    )
    await db.execute(
        "UPDATE callbacks SET state = 'dialing', attempts = 1, dialed_by = 'gone/1',"
        " last_attempt_at = now() - interval '10 seconds' WHERE id = $1",
        recent,
    )
    pool = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=2)

    async def get_pool() -> Any:
        return pool

    store = PgNodeStore(get_pool)
    name = f"e2e-live-{uuid.uuid4().hex[:6]}"
    await store.beat(status(name, live_instance))
    try:
        worker = CallbackWorker(get_pool, AnsweringDialer(), dict, instance="me/1")
        await worker.tick()  # no leadership in use: it is the only worker
    finally:
        await pool.close()
        await db.execute("DELETE FROM nodes WHERE node = $1", name)
    rows = {
        r["id"]: (r["state"], r["last_result"])
        for r in await db.fetch(
            "SELECT id, state, last_result FROM callbacks WHERE queue = $1", queue
        )
    }
    assert rows[dead][0] == "pending" and rows[dead][1].startswith("attempt lost with node")
    assert rows[live] == ("dialing", None)  # its node is alive
    assert rows[recent] == ("dialing", None)  # it may still ring


# -- heartbeat, shared settings, status --------------------------------------------


def status(node: str, instance: str, leader: bool = False, calls: int = 0) -> NodeStatus:
    return NodeStatus(
        node, instance, 4242, "v-e2e", calls, True, 400, leader, datetime.now(UTC), "127.0.0.1:1"
    )


async def test_heartbeat_rows(stack: Settings, db: Any) -> None:
    pool = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=2)

    async def get_pool() -> Any:
        return pool

    name = f"e2e-hb-{uuid.uuid4().hex[:6]}"
    calls = iter(range(1000))
    hb = Heartbeat(
        PgNodeStore(get_pool),
        lambda: status(name, f"{name}/1", leader=True, calls=next(calls)),
        interval_s=0.05,
    )
    try:
        async with running(hb.run):
            await until(lambda: hb.beats >= 3, 10, "3 heartbeats")
        row = await db.fetchrow(
            "SELECT *, now() - last_seen AS age FROM nodes WHERE node = $1", name
        )
        assert (row["instance"], row["pid"], row["flow_version"]) == (f"{name}/1", 4242, "v-e2e")
        assert row["calls"] >= 2 and row["leader"] and row["ari_connected"]
        assert row["admission_limit"] == 400 and row["stopped_at"] is None
        assert row["age"].total_seconds() < 5
        await hb.stop()
        rows, _now = await PgNodeStore(get_pool).nodes()
        (mine,) = [r for r in rows if r.status.node == name]
        assert mine.stopped_at is not None and not mine.status.leader
        assert (mine.status.calls, mine.status.ari_connected) == (0, False)
    finally:
        await pool.close()
        await db.execute("DELETE FROM nodes WHERE node = $1", name)


class Subscriber:
    def __init__(self, s: Settings, pool: Any, name: str, poll_s: float) -> None:
        async def get_pool() -> Any:
            return pool

        self.reloads = 0
        self.sync = ClusterSync(
            PgSharedStore(get_pool),
            PgNodeStore(get_pool),
            node=name,
            instance=f"{name}/{uuid.uuid4().hex[:6]}",
            reload=self.reload,
            clock=BusinessClock(),
            shedding=SheddingOverride(),
            poll_s=poll_s,
        )
        self.listen = PgNotifications(s.pg_dsn, self.sync.wake, node=name)

    async def reload(self) -> dict[str, Any]:
        self.reloads += 1
        return {"ok": True, "version": "v-e2e"}


async def test_a_reload_is_seen_by_two_subscribers(stack: Settings) -> None:
    pool = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=4)
    tag = uuid.uuid4().hex[:6]
    # poll_s of an hour: only the notification can wake a and b within the test
    a, b = (Subscriber(stack, pool, f"e2e-{n}-{tag}", 3600) for n in ("a", "b"))
    c = Subscriber(stack, pool, f"e2e-c-{tag}", 0.2)  # polling only, no LISTEN
    try:
        async with running(a.sync.run, b.sync.run, c.sync.run, a.listen.run, b.listen.run):
            await until(lambda: a.listen.listening and b.listen.listening, 10, "listening")
            await until(lambda: a.sync.joined and b.sync.joined and c.sync.joined, 10, "joined")
            t0 = time.monotonic()
            result = await a.sync.reload_flows()
            assert result["ok"] and result["cluster"] is True
            notified = await until(lambda: b.reloads == 1, 10, "b reloads (LISTEN)")
            polled = await until(lambda: c.reloads == 1, 10, "c reloads (polling)")
            print(f"\nshared reload: by NOTIFY in {notified:.3f} s, by polling +{polled:.3f} s")
            assert b.listen.received >= 1 and a.reloads == 1  # a: its own, once
            await b.sync.set_shedding(2)
            await until(lambda: a.sync.shedding.level == 2, 10, "a sheds at 2")
            await until(lambda: c.sync.shedding.level == 2, 10, "c sheds at 2")
            await b.sync.set_shedding(None)
            await until(lambda: a.sync.shedding.level is None, 10, "a back to the rules")
    finally:
        await pool.close()
    assert time.monotonic() - t0 < 20


async def test_cluster_status_json(stack: Settings, db: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    up, stale = f"e2e-up-{tag}", f"e2e-stale-{tag}"
    pool = await asyncpg.create_pool(stack.pg_dsn, min_size=1, max_size=2)

    async def get_pool() -> Any:
        return pool

    store = PgNodeStore(get_pool)
    try:
        await store.beat(status(up, f"{up}/1", calls=3))
        await store.beat(status(stale, f"{stale}/1", leader=True))
        await db.execute(
            "UPDATE nodes SET last_seen = now() - interval '20 seconds' WHERE node = $1", stale
        )
        proc = await asyncio.to_thread(
            subprocess.run,
            [CLI, "cluster", "status", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        await pool.close()
        await db.execute("DELETE FROM nodes WHERE node = ANY($1)", [up, stale])
    body = json.loads(proc.stdout)
    mine = {e["node"]: e for e in body["nodes"] if e["node"] in (up, stale)}
    assert {k: mine[up][k] for k in ("state", "pid", "calls", "flow_version", "ari", "leader")} == {
        "state": "up",
        "pid": 4242,
        "calls": 3,
        "flow_version": "v-e2e",
        "ari": True,
        "leader": False,
    }
    assert (mine[stale]["state"], mine[stale]["leader"]) == ("stale", False)
    assert mine[stale]["seen_s"] >= 19
    assert proc.returncode == (0 if body["ok"] else 1)

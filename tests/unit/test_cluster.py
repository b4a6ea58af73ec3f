"""Several nodes on one database, without the database: the node table's rules
(tables), and the shared settings between two ``ClusterSync`` on one fake
store at the protocol edge (``SharedStore`` and ``NodeStore`` of the service)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from agi_app.core.clock import BusinessClock
from agi_app.core.cluster import (
    CLOCK,
    FLOWS,
    SHEDDING,
    NodeRow,
    NodeStatus,
    Shared,
    cluster_table,
    node_state,
    render_table,
)
from agi_app.entry.cli.cluster import status
from agi_app.service.cluster import ClusterSync
from agi_app.service.heartbeat import Heartbeat
from agi_app.service.shedding import SheddingOverride

NOW = dt.datetime(2026, 12, 2, 10, 0, 0, tzinfo=dt.UTC)


def row(
    node: str, age_s: float, *, leader: bool = False, stopped: bool = False, ari: bool = True
) -> NodeRow:
    seen = NOW - dt.timedelta(seconds=age_s)
    st = NodeStatus(node, f"{node}/1/x", 100, "v1", 2, ari, 400, leader, NOW, "127.0.0.1:8089")
    return NodeRow(st, seen, seen if stopped else None)


@pytest.mark.parametrize(
    ("age", "stopped", "state"),
    [
        (0, False, "up"),
        (6, False, "up"),
        (6.1, False, "stale"),
        (60, False, "stale"),
        (61, False, "down"),
        (1, True, "down"),
    ],
)
def test_node_state(age: float, stopped: bool, state: str) -> None:
    assert node_state(row("a", age, stopped=stopped), NOW) == state


def test_a_node_whose_asterisk_is_gone_is_not_up() -> None:
    """Its app still beats, with ARI down: it was shown ``up`` (and a stale
    node showed its last ``ari yes``)."""
    table = cluster_table([row("a", 1, ari=False, leader=True), row("b", 30)], NOW)
    assert [(e["node"], e["state"], e["ari"], e["leader"]) for e in table] == [
        ("a", "no ari", False, True),
        ("b", "stale", None, False),
    ]
    assert render_table(table).splitlines()[2].split()[5] == "-"
    body = status([row("a", 1, ari=False, leader=True), row("b", 1)], NOW, None)
    assert body["up"] == 1 and not body["ok"]  # the leader cannot dial callbacks


def test_table_leader_only_when_up_and_kamailio_column() -> None:
    rows = [row("b", 30, leader=True), row("a", 1, leader=True)]
    table = cluster_table(rows, NOW)
    assert [(e["node"], e["state"], e["leader"]) for e in table] == [
        ("a", "up", True),
        ("b", "stale", False),  # its word on leading is 30 s old
    ]
    assert "kamailio" not in table[0]
    seen = cluster_table(rows, NOW, {"a": "AP", "c": "IP"})
    assert [(e["node"], e["state"], e["kamailio"]) for e in seen] == [
        ("a", "up", "AP"),
        ("b", "stale", "-"),
        ("c", "no heartbeat", "IP"),  # only the dispatcher knows it
    ]
    text = render_table(seen)
    assert text.splitlines()[0].split() == [
        *("node", "state", "pid", "calls", "flow_version", "ari", "leader", "seen_s"),
        "kamailio",
    ]
    assert text.splitlines()[1].split() == ["a", "up", "100", "2", "v1", "yes", "yes", "1.0", "AP"]


@pytest.mark.parametrize(
    ("rows", "ok", "leader"),
    [
        ([row("a", 1, leader=True), row("b", 1)], True, "a"),
        ([row("a", 1), row("b", 1)], False, None),  # nobody leads
        ([row("a", 1, leader=True), row("b", 1, leader=True)], False, None),  # two
        ([], False, None),
    ],
)
def test_status_ok_with_exactly_one_leader(rows: list[NodeRow], ok: bool, leader: str) -> None:
    body = status(rows, NOW, None)
    assert (body["ok"], body["leader"]) == (ok, leader)


# -- shared settings -------------------------------------------------------------


class Store:
    """The shared table and the node table, in memory; ``down`` refuses everything."""

    def __init__(self) -> None:
        self.rows: dict[str, Shared] = {}
        self.generation = 0
        self.down = False
        self.up_nodes: set[str] = set()
        self.listeners: list[ClusterSync] = []

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("database: connection refused")

    async def publish(self, key: str, body: dict[str, Any], origin: str, node: str) -> int:
        self._check()
        self.generation += 1
        self.rows[key] = Shared(key, self.generation, dict(body), origin, node)
        for sync in self.listeners:  # NOTIFY on commit
            sync.wake()
        return self.generation

    async def load(self) -> list[Shared]:
        self._check()
        return list(self.rows.values())

    async def others_up(self, node: str, within_s: float) -> bool:
        self._check()
        return bool(self.up_nodes - {node})

    async def beat(self, st: NodeStatus) -> None:
        self._check()
        self.up_nodes.add(st.node)

    async def stopped(self, node: str, instance: str) -> None:
        self.up_nodes.discard(node)

    async def nodes(self) -> tuple[list[NodeRow], dt.datetime]:
        return [], NOW


class Node:
    def __init__(self, store: Store, name: str, clock_at_start: dt.datetime | None = None):
        self.reloads = 0
        self.version = "v1"
        self.clock = BusinessClock("Asia/Shanghai")
        if clock_at_start is not None:
            self.clock.set(clock_at_start)
        self.shedding = SheddingOverride()
        self.sync = ClusterSync(
            store,
            store,
            node=name,
            instance=f"{name}/1/x",
            reload=self.reload,
            clock=self.clock,
            shedding=self.shedding,
            clock_from_start=clock_at_start is not None,
            poll_s=3600,  # only a notification wakes it in these tests
        )
        store.listeners.append(self.sync)
        store.up_nodes.add(name)

    async def reload(self) -> dict[str, Any]:
        self.reloads += 1
        return {"ok": True, "version": self.version}


MONTH_END = dt.datetime(2030, 1, 30, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


async def two_nodes() -> tuple[Store, Node, Node]:
    store = Store()
    a, b = Node(store, "a"), Node(store, "b")
    await a.sync.join()
    await b.sync.join()
    return store, a, b


async def test_a_change_on_one_node_is_applied_on_the_other() -> None:
    store, a, b = await two_nodes()
    assert (await a.sync.set_clock(MONTH_END))["cluster"] is True
    assert (await a.sync.set_shedding(3))["cluster"] is True
    a.version = "v2"
    result = await a.sync.reload_flows()
    assert result["ok"] and result["cluster"] and result["version"] == "v2"
    await b.sync.sync()
    await a.sync.sync()  # its own changes: nothing to apply again
    assert (a.reloads, b.reloads) == (1, 1)
    assert b.shedding.level == 3 and b.clock.offset == a.clock.offset
    assert abs((b.clock.now() - MONTH_END).total_seconds()) < 60
    assert b.sync.seen == a.sync.seen == {k: store.rows[k].generation for k in store.rows}
    await b.sync.sync()
    assert b.reloads == 1  # applied once
    await b.sync.set_clock(None)
    await a.sync.sync()
    assert not a.clock.overridden


async def test_a_refused_reload_is_not_shared() -> None:
    store, a, _b = await two_nodes()

    async def refused() -> dict[str, Any]:
        return {"ok": False, "version": "v1", "errors": ["x.yaml: bad"]}

    a.sync._reload = refused
    result = await a.sync.reload_flows()
    assert result == {"ok": False, "version": "v1", "errors": ["x.yaml: bad"]}
    assert FLOWS not in store.rows


async def test_database_down_the_change_stays_local() -> None:
    store, a, b = await two_nodes()
    store.down = True
    assert (await a.sync.set_shedding(2))["cluster"] is False
    assert a.shedding.level == 2
    store.down = False
    await b.sync.sync()
    assert b.shedding.level is None


async def test_a_joining_node_takes_the_cluster_settings() -> None:
    store, a, _b = await two_nodes()
    await a.sync.set_clock(MONTH_END)
    await a.sync.set_shedding(4)
    c = Node(store, "c")
    await c.sync.join()
    assert c.shedding.level == 4 and c.clock.offset == a.clock.offset
    assert c.reloads == 0  # it just loaded its files


async def test_a_node_alone_shares_its_own_settings_not_an_old_run() -> None:
    store = Store()
    store.rows[SHEDDING] = Shared(SHEDDING, 5, {"level": 4}, "old/1/x", "old")
    store.rows[CLOCK] = Shared(CLOCK, 6, {"offset_s": 86400.0, "now": "x"}, "old/1/x", "old")
    store.generation = 6
    a = Node(store, "a")
    await a.sync.join()
    assert a.shedding.level is None and not a.clock.overridden
    assert store.rows[SHEDDING].body == {"level": None}
    assert store.rows[CLOCK].body == {"offset_s": None, "now": None}


async def test_a_clock_given_at_start_wins_and_is_shared() -> None:
    store, a, _b = await two_nodes()
    c = Node(store, "c", clock_at_start=MONTH_END)
    await c.sync.join()
    await a.sync.sync()
    assert a.clock.offset == c.clock.offset


@pytest.mark.parametrize(
    "offset_s",
    [2.5e11, -6.4e10, 1e300, float("nan"), float("inf"), "x", [1]],
    ids=["year-9999", "year-1", "huge", "nan", "inf", "text", "list"],
)
async def test_a_shared_clock_out_of_range_is_ignored(offset_s: Any) -> None:
    """A row another node (or a hand) wrote: the clock must keep reading."""
    store, a, b = await two_nodes()
    await a.sync.set_clock(MONTH_END)
    await b.sync.sync()
    await store.publish(CLOCK, {"offset_s": offset_s, "now": None}, "elsewhere", "z")
    await b.sync.sync()
    assert b.clock.offset == a.clock.offset  # the last good one kept
    assert abs((b.clock.now() - MONTH_END).total_seconds()) < 60


def test_the_clock_refuses_a_time_it_cannot_run_from() -> None:
    clock = BusinessClock("Asia/Shanghai")
    for when in ("9999-12-31T23:59:59.999999", "0001-01-01T00:00:00+14:00", "2200-01-01"):
        with pytest.raises(ValueError, match="2000-2199"):
            clock.set(dt.datetime.fromisoformat(when))
    with pytest.raises(ValueError):
        clock.set_offset(dt.timedelta(days=-800_000))
    assert not clock.overridden and clock.now().year >= 2000


async def test_a_change_read_before_a_newer_local_one_is_not_applied() -> None:
    store, a, b = await two_nodes()
    await b.sync.set_shedding(1)
    stale = await a.sync.store.load()  # a read that began before a's own change

    class Late:
        async def load(self) -> list[Shared]:
            await a.sync.set_shedding(3)  # made meanwhile, newer
            return stale

        async def publish(self, *args: Any) -> int:
            return await store.publish(*args)

    a.sync.store = Late()
    await a.sync.sync()
    assert a.shedding.level == 3


async def test_a_notification_wakes_the_loop() -> None:
    _store, a, b = await two_nodes()
    task = asyncio.create_task(b.sync.run())
    try:
        await a.sync.set_shedding(2)
        async with asyncio.timeout(5):
            while b.shedding.level != 2:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert b.sync.applied == 1


async def test_heartbeat_beats_and_says_when_it_stops() -> None:
    store = Store()
    st = row("a", 0).status
    hb = Heartbeat(store, lambda: st, interval_s=0.01)
    task = asyncio.create_task(hb.run())
    try:
        async with asyncio.timeout(5):
            while hb.beats < 3:
                await asyncio.sleep(0.01)
        store.down = True
        async with asyncio.timeout(5):
            while not hb.failing:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert store.up_nodes == {"a"}
    await hb.stop()
    assert store.up_nodes == set()

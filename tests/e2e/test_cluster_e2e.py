"""The cluster on one machine: Kamailio, two IVR nodes (Asterisk + app) and the
queue node, against the real parts. One cluster for the module, on ports of its
own (Kamailio on 5360, nodes shifted by 2000) beside the session's single node.

Each test counts what happened (journeys, SIPp results, Kamailio's states) and
prints the times it measured.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from agi_app.adapters.kamailio.dispatcher import Destination, destinations, ping_active
from agi_app.core.shedding.load import QueueLoad
from agi_app.settings import PROJECT_ROOT, Settings
from agi_app.tools.appproc import AppProcess
from agi_app.tools.qa.answer_scenario import build_answerer
from agi_app.tools.qa.runner import Answerer, SippResult, run_callers
from agi_app.tools.qa.scenario import build_caller, build_refused, parse_keys
from agi_app.tools.stack import asterisk, cluster, kamailio
from agi_app.tools.stack.cluster_layout import NodeSpec, layout, node_root, queue_node
from tests.conftest import AppProcess as SessionApp
from tests.conftest import admin, quiet_clock, wait_queue

pytestmark = pytest.mark.e2e

KAMAILIO_PORT = 5360
SHIFT = 2000


@dataclass
class Cluster:
    settings: Settings
    nodes: list[NodeSpec]
    apps: dict[str, AppProcess]
    flows: Path

    @property
    def target(self) -> str:
        return f"{self.settings.bind_address}:{self.settings.sip_port}"

    def ivr(self, name: str) -> NodeSpec:
        return next(n for n in self.nodes if n.name == name)

    def states(self) -> dict[str, Destination]:
        return {d.node: d for d in destinations(kamailio.paths(self.settings).ctl)}


@pytest.fixture(scope="module")
def two_nodes(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    s = stack.model_copy(update={"sip_port": KAMAILIO_PORT, "cluster_port_shift": SHIFT})
    flows = tmp_path_factory.mktemp("cluster-flows")  # the reload test changes them
    for f in (PROJECT_ROOT / "flows").glob("*.yaml"):
        shutil.copy(f, flows / f.name)
    nodes = layout(s, 2)
    cluster.start(s, 2, apps=False)
    queue = queue_node(nodes)
    apps: dict[str, AppProcess] = {}
    try:
        for node in nodes:
            if node.is_ivr:
                proc = cluster.app_process(s, node, queue)
                proc.env["AGI_APP_RISK_ROUTING"] = "0"
                proc.env["AGI_APP_FLOWS_DIR"] = str(flows)
                clock = quiet_clock()
                if clock:
                    proc.env["AGI_APP_BUSINESS_CLOCK"] = clock
                proc.launch()
                apps[node.name] = proc
        for proc in apps.values():
            proc.wait_ready(60)
        yield Cluster(s, nodes, apps, flows)
    finally:
        for proc in apps.values():
            proc.stop()
        cluster.stop(s)


async def calls(
    c: Cluster,
    tmp_path: Path,
    number: str,
    callers: list[str],
    keys: str,
    *,
    rate: float = 5,
    cause: int | None = 16,
    target: str | None = None,
    call_timeout_s: int = 30,
) -> SippResult:
    work = tmp_path / f"calls-{callers[0]}-{time.monotonic_ns()}"
    scenario = build_caller(parse_keys(keys), work, expect_cause=cause)
    return await run_callers(
        scenario,
        service=number,
        callers=callers,
        calls=len(callers),
        rate=rate,
        limit=len(callers),
        timeout_s=90,
        target=target or c.target,
        call_timeout_s=call_timeout_s,
    )


async def journeys(s: Settings, callers: list[str], count: int) -> list[Any]:
    """The ended journeys of ``callers``, once ``count`` are written (the writer batches)."""
    conn = await asyncpg.connect(s.pg_dsn)
    deadline = time.monotonic() + 15
    try:
        while True:
            rows = list(
                await conn.fetch(
                    "SELECT caller, node, outcome, ended_at FROM calls"
                    " WHERE (caller = ANY($1::text[]) OR caller_e164 = ANY($1::text[]))"
                    " AND ended_at IS NOT NULL ORDER BY started_at",
                    callers + [f"+86{n}" for n in callers],
                )
            )
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def wait_state(c: Cluster, node: str, state: str, timeout: float = 15) -> float:
    """Seconds until Kamailio shows ``node`` in ``state``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        dest = (await asyncio.to_thread(c.states)).get(node)
        if dest is not None and dest.state == state:
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"Kamailio did not mark {node} {state} within {timeout} s: {c.states()}")


def numbers(prefix: str, n: int) -> list[str]:
    stamp = int(time.time()) % 10000
    return [f"{prefix}{stamp:04d}{i:02d}" for i in range(n)]


async def test_calls_spread_over_both_nodes(two_nodes: Cluster, tmp_path: Path) -> None:
    callers = numbers("13511", 8)
    result = await calls(two_nodes, tmp_path, "100", callers, "wait 1; 1", rate=4)
    assert result.successful == 8, result.summary()
    rows = await journeys(two_nodes.settings, callers, 8)
    by_node = {r["node"] for r in rows}
    assert len(rows) == 8 and by_node == {"ivr1", "ivr2"}, [dict(r) for r in rows]


async def test_all_nodes_full_refused_at_the_edge(two_nodes: Cluster, tmp_path: Path) -> None:
    """With each node capped at one call (the list reloaded at run time), two calls
    fill the cluster and a third is refused 503 with Retry-After by Kamailio."""
    s = two_nodes.settings
    ctl = kamailio.paths(s).ctl
    full = s.model_copy(update={"max_concurrent_calls": 1})
    kamailio.write_dispatcher_list(full, two_nodes.nodes)
    kamailio_reload(ctl)
    try:
        holders = asyncio.create_task(
            calls(two_nodes, tmp_path, "100", numbers("13522", 2), "wait 6; 1", rate=10)
        )
        deadline = time.monotonic() + 10
        while sum(d.load for d in two_nodes.states().values()) < 2:
            assert time.monotonic() < deadline, two_nodes.states()
            await asyncio.sleep(0.05)
        refused = build_refused(tmp_path / "refused", 503)
        started = time.monotonic()
        result = await run_callers(
            refused,
            service="100",
            callers=numbers("13533", 1),
            calls=1,
            timeout_s=20,
            target=two_nodes.target,
        )
        print(f"refused in {1000 * (time.monotonic() - started):.0f} ms (SIPp included)")
        assert result.successful == 1, result.summary() + result.output[-2000:]
        held = await holders
        assert held.successful == 2, held.summary()
    finally:
        kamailio.write_dispatcher_list(s, two_nodes.nodes)
        kamailio_reload(ctl)


def kamailio_reload(ctl: Path) -> None:
    from agi_app.adapters.kamailio.dispatcher import reload

    reload(ctl)


async def test_node_killed_and_back(two_nodes: Cluster, tmp_path: Path) -> None:
    """kill -9 of ivr1's Asterisk with calls up: its calls end, every call placed
    after the kill is answered, Kamailio marks it down, and up again after restart."""
    c = two_nodes
    s = c.settings
    in_progress = asyncio.create_task(
        calls(c, tmp_path, "100", numbers("13544", 6), "wait 8; 1", rate=10, call_timeout_s=15)
    )
    try:
        # A call answered and in its flow on ivr1 (Kamailio counts a call from its
        # INVITE on: one still being set up would just fail over).
        deadline = time.monotonic() + 15
        while (await stats(c.apps["ivr1"])).get("active_calls", 0) < 1:
            assert time.monotonic() < deadline, "no call up on ivr1"
            await asyncio.sleep(0.05)
        victim = asterisk.pid(node_root(s, "ivr1"))
        assert victim
        os.kill(victim, signal.SIGKILL)
        marked_down = asyncio.create_task(wait_state(c, "ivr1", "inactive"))
        placed_after = numbers("13555", 6)
        after = await calls(c, tmp_path, "100", placed_after, "wait 1; 1", rate=6)
        print(f"ivr1 marked down {await marked_down:.2f} s after the kill")
        assert after.successful == 6, after.summary()
        setup = sorted(after.rtd.get("1", []))
        print(f"INVITE->200 after the kill: worst {setup[-1] if setup else 0:.0f} ms")
        before = await in_progress
        assert before.failed >= 1, before.summary()  # the calls that were on ivr1 ended
        rows = await journeys(s, placed_after, 6)
        assert {r["node"] for r in rows} == {"ivr2"}, [dict(r) for r in rows]
    finally:
        in_progress.cancel()
        started = time.monotonic()
        await asyncio.to_thread(cluster.restart_asterisk, s, "ivr1", 2)
        await wait_state(c, "ivr1", "active", timeout=20)
        print(f"ivr1 back: marked up {time.monotonic() - started:.2f} s after its restart")
        await c.apps["ivr1"].wait_ready_async(30)
    again = await calls(c, tmp_path, "100", numbers("13566", 6), "wait 1; 1", rate=4)
    assert again.successful == 6, again.summary()


async def test_new_call_sent_to_a_dead_node_fails_over(two_nodes: Cluster, tmp_path: Path) -> None:
    """With the pings paused, Kamailio learns that a node died only from an INVITE it
    sends there: after fr_timer the call goes to the other node and is answered
    (with ds_load_unset() before ds_next_dst() under algorithm 10, it got a 503)."""
    c = two_nodes
    s = c.settings
    ctl = kamailio.paths(s).ctl
    for node in ("ivr1", "ivr2"):
        await wait_state(c, node, "active", timeout=20)
    # Algorithm 10 sends the next call to the least loaded node (the first on a tie).
    active = [d for d in destinations(ctl) if d.state == "active"]
    victim = min(active, key=lambda d: d.load).node
    other = "ivr2" if victim == "ivr1" else "ivr1"
    callers = numbers("13577", 1)
    ping_active(ctl, False)
    try:
        pid = asterisk.pid(node_root(s, victim))
        assert pid
        os.kill(pid, signal.SIGKILL)
        result = await calls(c, tmp_path, "100", callers, "wait 1; 1")
        assert result.successful == 1, result.summary() + result.output[-2000:]
        states = c.states()  # the victim marked by the INVITE's timeout; the other took it
        assert states[victim].state == "inactive" and states[other].state == "active", states
    finally:
        ping_active(ctl, True)
        await asyncio.to_thread(cluster.restart_asterisk, s, victim, 2)
        await wait_state(c, victim, "active", timeout=20)
        await c.apps[victim].wait_ready_async(30)


async def test_grade_order_across_nodes(two_nodes: Cluster, tmp_path: Path) -> None:
    """Both agents busy; a standard caller waits, arrived through ivr1, then a
    diamond caller through ivr2: the first agent to free up takes the diamond."""
    c = two_nodes
    at_queue = c.settings.model_copy(update={"ami_port": queue_node(c.nodes).ami_port})
    agent1 = Answerer(build_answerer(tmp_path / "a1", hold_ms=[15000, 1000], name="agent1"), 5071)
    agent2 = Answerer(build_answerer(tmp_path / "a2", hold_ms=[22000, 1000], name="agent2"), 5072)
    await agent1.start()
    await agent2.start()
    tasks = []
    try:
        for n, (caller, node, agent) in enumerate(
            [("13900003001", "ivr1", agent1), ("13900003002", "ivr2", agent2)]
        ):
            tasks.append(
                asyncio.create_task(calls(c, tmp_path, "695555", [caller], "", target=sip(c, node)))
            )
            await wait_for(lambda a=agent: len(a.answered()) >= 1, f"occupier {n} connected")
        menu = "wait 1; 1; wait 2; 0"
        for n, (caller, node) in enumerate([("13800000005", "ivr1"), ("13800000001", "ivr2")]):
            tasks.append(
                asyncio.create_task(
                    calls(c, tmp_path, "95555", [caller], menu, target=sip(c, node))
                )
            )
            await wait_queue(at_queue, "support", waiting_at_least(n + 1))
        results = await asyncio.gather(*tasks)
        assert all(r.successful == 1 for r in results), [r.summary() for r in results]
        served = sorted(agent1.answered() + agent2.answered(), key=lambda a: a.at)
        waiting = [a.caller for a in served if a.caller in ("13800000001", "13800000005")]
        assert waiting == ["13800000001", "13800000005"], served
    finally:
        for t in tasks:
            t.cancel()
        await agent1.stop()
        await agent2.stop()


def waiting_at_least(n: int) -> Callable[[QueueLoad], bool]:
    return lambda q: q.waiting >= n


async def wait_for(check: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.05)


def sip(c: Cluster, node: str) -> str:
    return f"{c.settings.bind_address}:{c.ivr(node).sip_port}"


async def stats(proc: AppProcess) -> dict[str, Any]:
    try:
        status, body = await admin(proc.settings, "GET", "/admin/stats")
    except OSError:
        return {}
    return body if status == 200 and isinstance(body, dict) else {}


async def wait_stats(proc: AppProcess, holds: Callable[[dict[str, Any]], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not holds(await stats(proc)):
        assert time.monotonic() < deadline, f"{proc.settings.node}: {what}"
        await asyncio.sleep(0.05)


async def test_reload_while_calls_flow_reaches_both_nodes(
    two_nodes: Cluster, tmp_path: Path
) -> None:
    c = two_nodes
    ivr1, ivr2 = c.apps["ivr1"], c.apps["ivr2"]
    before = (await stats(ivr1))["flow_version"]
    flowing = asyncio.create_task(
        calls(c, tmp_path, "100", numbers("13577", 10), "wait 1; 1", rate=2)
    )
    demo = c.flows / "demo_ivr.yaml"
    demo.write_text(demo.read_text() + "\n# cluster e2e: new bytes, a new version\n")
    status, reloaded = await admin(ivr1.settings, "POST", "/admin/reload")
    assert status == 200 and reloaded["version"] != before, reloaded
    for proc in (ivr1, ivr2):
        await wait_stats(
            proc, lambda m: m.get("flow_version") == reloaded["version"], "the new flows"
        )
    result = await flowing
    assert result.successful == 10 and result.failed == 0, result.summary()


async def test_callback_leader_killed_another_dials_once(
    two_nodes: Cluster, app: SessionApp, tmp_path: Path
) -> None:
    """The callback leader's process killed: the other IVR node leads within
    seconds and dials a pending callback exactly once, through its own node and
    the trunk to the queue node, where an agent takes it."""
    c = two_nodes
    app.stop()  # the session app steps aside: it would compete for the leadership
    conn = await asyncpg.connect(c.settings.pg_dsn)
    phone = Answerer(build_answerer(tmp_path / "phone", hold_ms=2000, name="phone"), 5090)
    agent = Answerer(build_answerer(tmp_path / "agent", hold_ms=2000, name="agent1"), 5071)
    number = numbers("13588", 1)[0]
    killed: AppProcess | None = None
    try:
        leader = await one_leader(c)
        survivor = next(p for p in c.apps.values() if p is not leader)
        assert leader.proc is not None
        leader.proc.kill()
        started = time.monotonic()
        leader.proc.wait()
        killed = leader
        await wait_stats(survivor, lambda m: m.get("callback_leader") is True, "takeover")
        print(
            f"callback leader killed: {survivor.settings.node} leads after "
            f"{time.monotonic() - started:.2f} s"
        )
        await phone.start()
        await agent.start()
        row = await conn.fetchrow(
            "INSERT INTO callbacks (number, queue) VALUES ($1, 'support') RETURNING id", number
        )
        deadline = time.monotonic() + 30
        while (
            state := await conn.fetchval("SELECT state FROM callbacks WHERE id = $1", row["id"])
        ) not in ("connected", "done", "failed"):
            assert time.monotonic() < deadline, state
            await asyncio.sleep(0.1)
        await wait_for(lambda: len(agent.answered()) >= 1, "the agent took the callback")
        assert state != "failed"
        assert len(phone.answered()) == 1, phone.answered()
        attempts = await conn.fetchval("SELECT attempts FROM callbacks WHERE id = $1", row["id"])
        assert attempts == 1
    finally:
        await conn.execute("DELETE FROM callbacks WHERE number = $1", number)
        await conn.close()
        await phone.stop()
        await agent.stop()
        if killed is not None:
            killed.launch()
            killed.wait_ready(60)
        app.start()


async def one_leader(c: Cluster) -> AppProcess:
    deadline = time.monotonic() + 20
    while True:
        leaders = [p for p in c.apps.values() if (await stats(p)).get("callback_leader")]
        if len(leaders) == 1:
            return leaders[0]
        assert time.monotonic() < deadline, f"leaders: {[p.settings.node for p in leaders]}"
        await asyncio.sleep(0.1)

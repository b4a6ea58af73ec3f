"""Two real app processes on one stack, as two nodes: one leads the callback
worker; the clock, the shedding level and a flow reload made on either reach
the other; the leader killed with SIGKILL, the other leads within seconds.

Each node has its own name, state folder, admin and FastAGI ports and ARI
application name: Asterisk hands a Stasis call only to the application its
dialplan names, so these two never take the session app's calls (nor each
other's). The session app steps aside for the test (it would compete for the
leadership).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agi_app.settings import PROJECT_ROOT, Settings
from tests.conftest import AppProcess, admin, month_end_business_time, quiet_clock

pytestmark = pytest.mark.e2e
CLI = str(PROJECT_ROOT / ".venv/bin/agi-app")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def node_process(stack: Settings, tmp: Path, name: str, letter: str, flows: Path) -> AppProcess:
    env = {
        "AGI_APP_NODE": name,
        "AGI_APP_STATE_DIR": str(tmp / name),
        "AGI_APP_ADMIN_PORT": str(free_port()),
        "AGI_APP_AGI_PORT": str(free_port()),
        "AGI_APP_ARI_APP": f"agi-app-{name}",
        "AGI_APP_RISK_ROUTING": "0",
        "AGI_APP_FLOWS_DIR": str(flows),
    }
    quiet = quiet_clock()  # as the session app: a quiet business day
    if quiet is not None:
        env["AGI_APP_BUSINESS_CLOCK"] = quiet
    s = stack.model_copy(
        update={
            "node": name,
            "state_dir": tmp / name,
            "admin_port": int(env["AGI_APP_ADMIN_PORT"]),
            "agi_port": int(env["AGI_APP_AGI_PORT"]),
            "ari_app": env["AGI_APP_ARI_APP"],
        }
    )
    proc = AppProcess(s, stack.var_dir / "log" / f"app-cluster-{letter}.log")
    proc.env.update(env)
    return proc


async def stats(p: AppProcess) -> dict[str, Any]:
    try:
        status, body = await admin(p.settings, "GET", "/admin/stats")
    except OSError:
        return {}
    return body if status == 200 else {}


async def wait_stats(
    p: AppProcess, holds: Callable[[dict[str, Any]], bool], timeout: float, what: str
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    try:
        async with asyncio.timeout(timeout):
            while not (body := await stats(p)) or not holds(body):
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{p.settings.node}: not within {timeout} s: {what}; {body}") from None
    return body


async def one_leader(a: AppProcess, b: AppProcess) -> tuple[AppProcess, AppProcess]:
    """(leader, follower) once exactly one of the two leads."""
    async with asyncio.timeout(20):
        while True:
            ma, mb = await stats(a), await stats(b)
            if ma and mb and ma["callback_leader"] != mb["callback_leader"]:
                return (a, b) if ma["callback_leader"] else (b, a)
            await asyncio.sleep(0.05)


@pytest.mark.timeout(180)
async def test_two_nodes_share_settings_and_the_leader_killed_is_replaced(
    app: AppProcess, stack: Settings, db: Any, tmp_path: Path
) -> None:
    app.stop()  # the session app steps aside
    flows = tmp_path / "flows"
    flows.mkdir()
    for f in (PROJECT_ROOT / "flows").glob("*.yaml"):
        shutil.copy(f, flows / f.name)
    tag = uuid.uuid4().hex[:4]
    a, b = (node_process(stack, tmp_path, f"e2e-{n}-{tag}", n, flows) for n in ("a", "b"))
    try:
        for p in (a, b):
            p.launch()
        for p in (a, b):
            await p.wait_ready_async(60)
            await wait_stats(p, lambda m: m["cluster"]["joined"], 20, "joined")
        leader, follower = await one_leader(a, b)
        await wait_stats(follower, lambda m: m["cluster"]["heartbeats"] >= 3, 20, "3 beats")
        assert (await stats(follower))["callback_leader"] is False
        assert (await stats(leader))["callback_leader"] is True

        # The clock, set on the follower, on the leader too.
        when = month_end_business_time()
        status, set_ = await admin(
            follower.settings, "POST", "/admin/clock", {"now": when.isoformat()}
        )
        assert status == 200 and set_["cluster"] is True
        m = await wait_stats(leader, lambda m: m["business_clock_overridden"], 10, "clock")
        assert abs(dt.datetime.fromisoformat(m["business_clock"]) - when) < dt.timedelta(minutes=1)
        # The shedding level, forced on the leader, on the follower too.
        status, _ = await admin(leader.settings, "POST", "/admin/shedding", {"level": 2})
        assert status == 200
        await wait_stats(follower, lambda m: m["shedding_override"] == 2, 10, "shedding 2")
        # A flow reload asked of the follower reaches the leader.
        before = (await stats(leader))["flow_version"]
        demo = sorted(flows.glob("*.yaml"))[0]
        demo.write_text(demo.read_text() + "\n# e2e: a change of bytes, a new version\n")
        status, reloaded = await admin(follower.settings, "POST", "/admin/reload")
        assert status == 200 and reloaded["cluster"] is True and reloaded["version"] != before
        await wait_stats(
            leader, lambda m: m["flow_version"] == reloaded["version"], 10, "new flows"
        )
        # Back to the rules and real time, for the apps that come next.
        await admin(leader.settings, "POST", "/admin/shedding", {"level": None})
        await admin(leader.settings, "POST", "/admin/clock", {"now": None})
        await wait_stats(follower, lambda m: not m["business_clock_overridden"], 10, "reset")

        # kill -9 the leader: the follower leads within seconds.
        assert leader.proc is not None
        leader.proc.kill()
        t0 = time.monotonic()
        leader.proc.wait()
        await wait_stats(follower, lambda m: m["callback_leader"], 15, "takeover")
        took_over = time.monotonic() - t0
        print(f"\nleader process killed (SIGKILL): the other node leads after {took_over:.2f} s")
        assert took_over < 5

        # The status: the survivor up and leading, the killed node stale.
        deadline = time.monotonic() + 20
        while True:
            proc = await asyncio.to_thread(
                subprocess.run,
                [CLI, "cluster", "status", "--json"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            nodes = {e["node"]: e for e in json.loads(proc.stdout)["nodes"]}
            if nodes[leader.settings.node]["state"] != "up" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)  # poll the status until the killed node goes stale
        dead, alive = nodes[leader.settings.node], nodes[follower.settings.node]
        assert dead["state"] == "stale" and not dead["leader"]
        assert alive["state"] == "up" and alive["leader"] and alive["ari"] is True
        assert alive["flow_version"] == reloaded["version"]
        assert proc.returncode == 0 and json.loads(proc.stdout)["leader"] == alive["node"]
    finally:
        for p in (a, b):
            p.stop()
        await db.execute(
            "DELETE FROM nodes WHERE node = ANY($1)", [a.settings.node, b.settings.node]
        )
        app.start()

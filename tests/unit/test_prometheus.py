"""/metrics in the Prometheus text format, read back with the library's own parser;
who may scrape it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from unittest.mock import MagicMock

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from prometheus_client.parser import text_string_to_metric_families

from agi_app.adapters.prometheus.exporter import HotlineState, PrometheusExporter
from agi_app.core.clock import BusinessClock
from agi_app.core.journey import CallEnd, CallStart, CallStep
from agi_app.core.metrics import METRICS
from agi_app.core.shedding.load import QueueLoad
from agi_app.entry.admin import _loopback, build_admin
from agi_app.entry.runtime import asyncio_tasks

NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


def exporter() -> PrometheusExporter:
    return PrometheusExporter(
        lambda: {"10086", "95555"},
        HotlineState(
            shedding_level=lambda: 2,
            queues=lambda: {"support": QueueLoad(waiting=3, longest_hold_s=40, available=1)},
            journey_backlog=lambda: 17,
            journey_dropped=lambda: 4,
            ari_reconnects=lambda: 1,
            loop_restarts=lambda: {"journey-writer": 2},
            callback_leader=lambda: True,
        ),
    )


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_calls_latencies_and_state_in_the_text_format() -> None:
    exp = exporter()
    exp.emit(CallStart("c1", "138", "10086", "ari", NOW))
    exp.emit(CallStart("c2", "138", "9999999", "agi", NOW))  # not a line: "other"
    exp.emit(CallStep("c1", "main", "menu", NOW))
    exp.emit(CallEnd("c1", NOW, "completed", 16, {"flow": "mobile_10086"}))
    METRICS.observe("lookup_ms", 0.8)
    METRICS.observe("dtmf_to_play_ms", 3.0)
    got = samples(exp.render().decode())
    assert got[("agi_app_calls_started_total", (("line", "10086"), ("via", "ari")))] == 1
    assert got[("agi_app_calls_started_total", (("line", "other"), ("via", "agi")))] == 1
    key = (("flow", "mobile_10086"), ("line", "10086"), ("outcome", "completed"))
    assert got[("agi_app_calls_ended_total", key)] == 1
    assert got[("agi_app_calls_in_progress", (("via", "ari"),))] == 0
    assert got[("agi_app_calls_in_progress", (("via", "agi"),))] == 1
    assert got[("agi_app_customer_lookup_seconds_count", ())] == 1
    assert got[("agi_app_customer_lookup_seconds_bucket", (("le", "0.001"),))] == 1
    assert got[("agi_app_dtmf_to_playback_seconds_bucket", (("le", "0.002"),))] == 0
    assert got[("agi_app_dtmf_to_playback_seconds_bucket", (("le", "0.005"),))] == 1
    assert got[("agi_app_shedding_level", ())] == 2
    assert got[("agi_app_queue_waiting", (("queue", "support"),))] == 3
    assert got[("agi_app_queue_agents_free", (("queue", "support"),))] == 1
    assert got[("agi_app_queue_longest_hold_seconds", (("queue", "support"),))] == 40
    assert got[("agi_app_journey_backlog", ())] == 17
    assert got[("agi_app_callback_leader", ())] == 1
    assert got[("agi_app_journey_dropped_total", ())] == 4
    assert got[("agi_app_ari_reconnects_total", ())] == 1
    assert got[("agi_app_loop_restarts_total", (("loop", "journey-writer"),))] == 2
    assert ("process_resident_memory_bytes", ()) in got


async def _noop_reload() -> dict[str, Any]:
    return {"ok": True}


@pytest.fixture
async def client(request: pytest.FixtureRequest) -> AsyncIterator[TestClient[Any, Any]]:
    metrics_token: str = getattr(request, "param", "")
    app = build_admin(
        "admin-secret",
        BusinessClock(),
        _noop_reload,
        lambda: {"ari_connected": True},
        exporter().render,
        metrics_token,
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


async def test_the_asyncio_tasks_gauge_counts_the_loops_tasks() -> None:
    """A task left behind shows in the gauge (the soak's leak figure)."""
    exp = PrometheusExporter(lambda: set(), replace(exporter().state, asyncio_tasks=asyncio_tasks))
    before = samples(exp.render().decode())[("agi_app_asyncio_tasks", ())]
    release = asyncio.Event()
    held = [asyncio.create_task(release.wait()) for _ in range(3)]
    during = samples(exp.render().decode())[("agi_app_asyncio_tasks", ())]
    release.set()
    await asyncio.gather(*held)
    assert during - before == 3
    assert samples(exp.render().decode())[("agi_app_asyncio_tasks", ())] == before
    assert asyncio_tasks() == before


def test_no_running_loop_counts_no_tasks() -> None:
    assert asyncio_tasks() == 0


async def test_loopback_scrapes_without_a_token(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "agi_app_calls_started_total" in await resp.text()


@pytest.mark.parametrize("client", ["scrape-secret"], indirect=True)
async def test_a_configured_metrics_token_is_required(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/metrics")).status == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await client.get("/metrics", headers=wrong)).status == 401
    hostile = {"Authorization": "Bearer 密码"}  # non-ASCII must not crash the check
    assert (await client.get("/metrics", headers=hostile)).status == 401
    good = {"Authorization": "Bearer scrape-secret"}
    assert (await client.get("/metrics", headers=good)).status == 200


async def test_the_json_stats_moved_to_admin_stats(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/admin/stats")).status == 401
    resp = await client.get("/admin/stats", headers={"Authorization": "Bearer admin-secret"})
    assert resp.status == 200
    body = await resp.json()
    assert body["ari_connected"] is True and "timings" in body and "counters" in body


@pytest.mark.parametrize(
    ("peer", "loopback"),
    [(("127.0.0.1", 4000), True), (("::1", 4000, 0, 0), True), (("10.1.2.3", 4000), False)],
)
def test_only_loopback_peers_count_as_loopback(peer: tuple[Any, ...], loopback: bool) -> None:
    transport = MagicMock()  # the socket edge: aiohttp reads the peer address from it
    transport.get_extra_info.side_effect = lambda key, default=None: (
        peer if key == "peername" else default
    )
    assert _loopback(make_mocked_request("GET", "/metrics", transport=transport)) is loopback

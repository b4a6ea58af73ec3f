"""The QA shedding override: the decision it forces, and its admin endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from agi_app.core.bus import DataBus
from agi_app.core.clock import BusinessClock
from agi_app.core.customer import Customer
from agi_app.core.routing.config import load_queues, load_service
from agi_app.core.shedding.load import LoadTracker
from agi_app.core.shedding.rules import load_rules
from agi_app.entry.admin import build_admin
from agi_app.service.shedding import SheddingOverride, SheddingService
from agi_app.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config"


class Quiet:
    def now(self) -> dt.datetime:
        return dt.datetime(2026, 12, 9, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _service() -> SheddingService:
    rules = load_rules(CONFIG / "shedding.yaml")
    policy = load_service(CONFIG / "service.yaml", load_queues(CONFIG / "queues.yaml"))
    return SheddingService(rules, policy, Quiet(), LoadTracker(rules))


def _bus(grade: str | None) -> DataBus:
    customer = None if grade is None else Customer(number="+8613800000005", name="", grade=grade)
    return DataBus("c1", "13800000005", "10086", "+8613800000005", customer, "ok")


@pytest.mark.parametrize(
    ("forced", "grade", "level", "rule"),
    [
        (None, "standard", 0, ""),  # a quiet day: the rules shed nobody
        (3, "standard", 3, "qa_override"),
        (3, None, 3, "qa_override"),
        (0, "standard", 0, "qa_override"),
        (4, "diamond", 0, "exempt"),  # VIPs keep their fast path
    ],
)
def test_the_override_forces_the_level(
    forced: int | None, grade: str | None, level: int, rule: str
) -> None:
    svc = _service()
    svc.override.level = forced
    d = svc.decide(_bus(grade))
    assert (d.level, d.rule) == (level, rule)
    assert d.actions == frozenset(svc.rules.levels.get(level, []))


async def _post(client: TestClient[Any, Any], body: Any) -> tuple[int, Any]:
    resp = await client.post(
        "/admin/shedding", json=body, headers={"Authorization": "Bearer t0ken"}
    )
    return resp.status, await resp.json()


async def test_the_admin_endpoint_sets_and_clears_it() -> None:
    override = SheddingOverride()

    async def reload() -> dict[str, Any]:
        return {"ok": True}

    app = build_admin("t0ken", BusinessClock(), reload, dict, shedding=override)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert await _post(client, {"level": 3}) == (200, {"ok": True, "level": 3})
        assert override.level == 3
        for bad in ({"level": 7}, {"level": "3"}, {"level": True}, {"level": 2.0}):
            status, body = await _post(client, bad)
            assert status == 400 and "level must be 0-4 or null" in body["error"]
        assert override.level == 3
        assert await _post(client, {"level": None}) == (200, {"ok": True, "level": None})
        assert override.level is None
        resp = await client.post("/admin/shedding", json={"level": 1})
        assert resp.status == 401  # the token is required

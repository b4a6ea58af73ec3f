"""The admin HTTP endpoint over a real socket: the bearer token, /health, the clock.
(The Prometheus /metrics, with its own access rule, is tested in test_prometheus.)"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from agi_app.core.clock import BusinessClock
from agi_app.entry.admin import build_admin
from agi_app.entry.cli.clock import set_clock_remote
from agi_app.service.shedding import SheddingOverride

TOKEN = "s3cret-token"
GUARDED = [("GET", "/admin/stats"), ("POST", "/admin/reload"), ("POST", "/admin/clock")]


class Admin:
    """The admin app's collaborators, recording what the endpoint asked of them."""

    def __init__(self) -> None:
        self.clock = BusinessClock("Asia/Shanghai")
        self.reloads = 0

    async def reload(self) -> dict[str, Any]:
        self.reloads += 1
        return {"ok": True, "flows": ["demo"]}

    def stats(self) -> dict[str, Any]:
        return {"ari_connected": True, "active_calls": 3}


@pytest.fixture
def parts() -> Admin:
    return Admin()


@pytest.fixture
async def client(parts: Admin) -> AsyncIterator[TestClient[Any, Any]]:
    app = build_admin(TOKEN, parts.clock, parts.reload, parts.stats)
    async with TestClient(TestServer(app)) as c:  # a real socket on 127.0.0.1, port 0
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("method", "path"), GUARDED)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("wrong"),
        bearer(TOKEN + "x"),
        {"Authorization": TOKEN},  # the token without the scheme
        {"Authorization": f"Basic {TOKEN}"},
    ],
    ids=["none", "wrong", "longer", "no-scheme", "basic"],
)
async def test_guarded_paths_refuse_without_the_token(
    client: TestClient[Any, Any], parts: Admin, method: str, path: str, headers: dict[str, str]
) -> None:
    async with client.request(method, path, headers=headers, json={"now": None}) as resp:
        assert resp.status == 401
        assert await resp.json() == {"error": "unauthorised"}
    assert parts.reloads == 0 and not parts.clock.overridden


async def test_health_is_open(client: TestClient[Any, Any]) -> None:
    async with client.get("/health") as resp:
        assert resp.status == 200
        assert await resp.json() == {"ok": True, "ari_connected": True, "pid": os.getpid()}


async def test_stats_with_the_token(client: TestClient[Any, Any]) -> None:
    async with client.get("/admin/stats", headers=bearer(TOKEN)) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert {"timings", "counters"} <= set(body)
    assert body["active_calls"] == 3 and body["ari_connected"] is True


async def test_reload_with_the_token(client: TestClient[Any, Any], parts: Admin) -> None:
    async with client.post("/admin/reload", headers=bearer(TOKEN)) as resp:
        assert resp.status == 200
        assert await resp.json() == {"ok": True, "flows": ["demo"]}
    assert parts.reloads == 1


async def test_a_refused_reload_is_422(parts: Admin) -> None:
    async def refused() -> dict[str, Any]:
        return {"ok": False, "errors": ["demo.yaml: node x: unknown target"]}

    app = build_admin(TOKEN, parts.clock, refused, parts.stats)
    async with (
        TestClient(TestServer(app)) as c,
        c.post("/admin/reload", headers=bearer(TOKEN)) as resp,
    ):
        assert resp.status == 422
        assert (await resp.json())["ok"] is False


async def test_clock_set_and_reset_with_the_token(
    client: TestClient[Any, Any], parts: Admin
) -> None:
    when = datetime(2030, 1, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    async with client.post(
        "/admin/clock", headers=bearer(TOKEN), json={"now": when.isoformat()}
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["ok"] is True and body["overridden"] is True
    assert abs((datetime.fromisoformat(body["now"]) - when).total_seconds()) < 60
    assert parts.clock.overridden
    async with client.post("/admin/clock", headers=bearer(TOKEN), json={"now": None}) as resp:
        assert resp.status == 200
        assert (await resp.json())["overridden"] is False
    assert not parts.clock.overridden


@pytest.mark.parametrize(
    "body",
    [
        b'{"now": "not a time"}',
        b'{"now": "2030-13-45T10:00"}',
        b'{"now": 17}',
        b'{"now": ""}',
        b'{"now": false}',  # falsy: it reset the clock
        # Accepted once, and then every reading of the clock raised OverflowError.
        b'{"now": "9999-12-31T23:59:59.999999"}',
        b'{"now": "0001-01-01T00:00:00+14:00"}',
        b'{"now": "1999-12-31T23:59:59"}',
        b'{"now": "2200-01-01T00:00:00"}',
    ],
    ids=["words", "bad-date", "number", "empty", "false", "year-9999", "year-1", "1999", "2200"],
)
async def test_a_bad_clock_body_is_400(
    client: TestClient[Any, Any], parts: Admin, body: bytes
) -> None:
    headers = {**bearer(TOKEN), "Content-Type": "application/json"}
    async with client.post("/admin/clock", headers=headers, data=body) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"].startswith("bad time")
    assert not parts.clock.overridden
    assert parts.clock.now().year >= 2000  # the clock still reads


WHEN = "2030-01-30T10:00:00+08:00"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        # 200 "overridden": false: the typo reset the business clock on every node.
        (b'{"clok": "2026-12-09T10:00"}', "unknown field(s) 'clok'; missing field(s) 'now'"),
        (b"{}", "missing field(s) 'now'; accepted fields: now"),
        (b'{"now": null, "node": "ivr1"}', "unknown field(s) 'node'; accepted fields: now"),
        (b'["2030-01-30T10:00"]', "the body must be a JSON object"),
        (b"not json", "the body must be a JSON object"),
        (b"", "the body must be a JSON object"),
    ],
)
async def test_a_clock_body_without_now_or_with_another_key_is_400(
    client: TestClient[Any, Any], parts: Admin, body: bytes, error: str
) -> None:
    async with client.post("/admin/clock", headers=bearer(TOKEN), json={"now": WHEN}) as resp:
        assert resp.status == 200
    before = parts.clock.now()
    headers = {**bearer(TOKEN), "Content-Type": "application/json"}
    async with client.post("/admin/clock", headers=headers, data=body) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"].startswith(error)
    assert parts.clock.overridden  # still set, not reset
    assert abs((parts.clock.now() - before).total_seconds()) < 60


@pytest.mark.parametrize(
    ("body", "error"),
    [
        # 200 "level": null: the typo ended the override instead of setting 3.
        (b'{"levl": 3}', "unknown field(s) 'levl'; missing field(s) 'level'"),
        (b"{}", "missing field(s) 'level'; accepted fields: level"),
        (b'{"level": 3, "minutes": 10}', "unknown field(s) 'minutes'; accepted fields: level"),
        (b"null", "the body must be a JSON object"),
        (b"", "the body must be a JSON object"),
    ],
)
async def test_a_shedding_body_without_level_or_with_another_key_is_400(
    parts: Admin, body: bytes, error: str
) -> None:
    shedding = SheddingOverride()
    app = build_admin(TOKEN, parts.clock, parts.reload, parts.stats, shedding=shedding)
    async with TestClient(TestServer(app)) as c:
        async with c.post("/admin/shedding", headers=bearer(TOKEN), json={"level": 2}) as resp:
            assert resp.status == 200
        headers = {**bearer(TOKEN), "Content-Type": "application/json"}
        async with c.post("/admin/shedding", headers=headers, data=body) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"].startswith(error)
        assert shedding.level == 2
        async with c.post("/admin/shedding", headers=bearer(TOKEN), json={"level": None}) as resp:
            assert await resp.json() == {"ok": True, "level": None}
    assert shedding.level is None


async def test_a_reload_takes_no_field(client: TestClient[Any, Any], parts: Admin) -> None:
    async with client.post("/admin/reload", headers=bearer(TOKEN), json={"flow": "x"}) as resp:
        assert resp.status == 400
        assert "unknown field(s) 'flow'; accepted fields: none" in (await resp.json())["error"]
    assert parts.reloads == 0
    async with client.post("/admin/reload", headers=bearer(TOKEN), json={}) as resp:
        assert resp.status == 200
    assert parts.reloads == 1


async def test_the_clock_command_still_sets_and_resets(
    client: TestClient[Any, Any], parts: Admin
) -> None:
    """``agi-app clock set|reset`` sends {"now": ...}, {"now": null}."""
    base = str(client.make_url("")).rstrip("/")
    assert (await set_clock_remote([base], TOKEN, WHEN))["overridden"] is True
    assert parts.clock.overridden
    assert (await set_clock_remote([base], TOKEN, None))["overridden"] is False
    assert not parts.clock.overridden


async def test_a_body_in_an_unknown_charset_is_400(parts: Admin) -> None:
    shedding = SheddingOverride()
    app = build_admin(TOKEN, parts.clock, parts.reload, parts.stats, shedding=shedding)
    headers = {**bearer(TOKEN), "Content-Type": "application/json; charset=bogus"}
    async with TestClient(TestServer(app)) as c:
        async with c.post("/admin/clock", headers=headers, data=b'{"now": null}') as resp:
            assert resp.status == 400
        async with c.post("/admin/shedding", headers=headers, data=b'{"level": 2}') as resp:
            assert resp.status == 400
    assert not parts.clock.overridden and shedding.level is None


async def test_a_token_header_that_is_not_utf8_is_401(client: TestClient[Any, Any]) -> None:
    """aiohttp gives the byte 0xff as a lone surrogate: a wrong token, not a 500."""
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(
        b"GET /admin/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\r\n"
        b"Connection: close\r\n\r\n"
    )
    async with asyncio.timeout(5):
        status = await reader.readline()
        await reader.read()
    writer.close()
    await writer.wait_closed()
    assert status.startswith(b"HTTP/1.1 401"), status


async def test_an_empty_token_refuses_everyone(parts: Admin) -> None:
    """A deployment that forgot the token is closed, not open to ``Bearer ``."""
    app = build_admin("", parts.clock, parts.reload, parts.stats)
    async with TestClient(TestServer(app)) as c:
        for headers in ({}, bearer("")):
            async with c.get("/admin/stats", headers=headers) as resp:
                assert resp.status == 401
        async with c.get("/health") as resp:
            assert resp.status == 200


class SharedChanges:
    """The cluster side of the admin endpoint (its ``Cluster`` protocol), recording."""

    def __init__(self, clock: BusinessClock) -> None:
        self.clock = clock
        self.asked: list[tuple[str, Any]] = []

    async def set_clock(self, when: datetime | None) -> dict[str, Any]:
        self.asked.append(("clock", when))
        self.clock.set(when)
        return {"cluster": True, "generation": len(self.asked)}

    async def set_shedding(self, level: int | None) -> dict[str, Any]:
        self.asked.append(("shedding", level))
        return {"cluster": False, "cluster_error": "database: refused"}


async def test_with_a_cluster_the_clock_and_shedding_are_shared(parts: Admin) -> None:
    shared = SharedChanges(parts.clock)
    app = build_admin(TOKEN, parts.clock, parts.reload, parts.stats, cluster=shared)
    when = "2030-01-30T10:00:00+08:00"
    async with TestClient(TestServer(app)) as c:
        async with c.post("/admin/clock", headers=bearer(TOKEN), json={"now": when}) as resp:
            body = await resp.json()
        assert resp.status == 200 and body["overridden"] is True
        assert (body["cluster"], body["generation"]) == (True, 1)
        async with c.post("/admin/shedding", headers=bearer(TOKEN), json={"level": 2}) as resp:
            assert await resp.json() == {
                "ok": True,
                "level": 2,
                "cluster": False,
                "cluster_error": "database: refused",
            }
        async with c.post("/admin/shedding", headers=bearer(TOKEN), json={"level": 9}) as resp:
            assert resp.status == 400
        async with c.post("/admin/clock", headers=bearer(TOKEN), json={"now": "x"}) as resp:
            assert resp.status == 400
        for path, typo in (("/admin/clock", {"clok": None}), ("/admin/shedding", {"levl": 3})):
            async with c.post(path, headers=bearer(TOKEN), json=typo) as resp:
                assert resp.status == 400  # and nothing asked of the other nodes
    assert shared.asked == [("clock", datetime.fromisoformat(when)), ("shedding", 2)]

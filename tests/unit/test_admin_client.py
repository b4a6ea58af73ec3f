"""The CLI's way to the running app's admin HTTP: the configured address, then
each node of this checkout's cluster; on to the next only when refused. Real
admin apps on real sockets stand in for the nodes."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from agi_app.core.clock import BusinessClock
from agi_app.entry.admin import build_admin
from agi_app.entry.cli.admin_client import AppUnreachable, admin_urls, call_admin
from agi_app.entry.cli.clock import set_clock_remote
from agi_app.entry.cli.flows import reload_remote
from agi_app.settings import Settings

TOKEN = "s3cret-token"


class Node:
    """One node's admin app, counting the reloads it was asked for."""

    def __init__(self) -> None:
        self.clock = BusinessClock("Asia/Shanghai")
        self.reloads = 0

    async def reload(self) -> dict[str, Any]:
        self.reloads += 1
        return {"ok": True, "version": "v2", "previous": "v1"}

    def stats(self) -> dict[str, Any]:
        return {}


@pytest.fixture
async def node() -> AsyncIterator[tuple[Node, str]]:
    parts = Node()
    server = TestServer(build_admin(TOKEN, parts.clock, parts.reload, parts.stats))
    await server.start_server()
    try:
        yield parts, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def refused_url() -> str:
    """An address where nothing listens: a port bound, never listened on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_a_refused_address_is_passed_for_the_next_that_answers(
    node: tuple[Node, str], capsys: pytest.CaptureFixture[str]
) -> None:
    parts, url = node
    assert await reload_remote([refused_url(), url], TOKEN) == 0
    assert parts.reloads == 1
    assert "reloaded: version v1 -> v2" in capsys.readouterr().out
    body = await set_clock_remote([refused_url(), url], TOKEN, "2026-11-30T10:00")
    assert body["overridden"] is True and parts.clock.overridden


async def test_an_http_error_from_the_first_is_the_answer_not_skipped(
    node: tuple[Node, str],
) -> None:
    first, url = node
    second = Node()
    async with TestServer(build_admin(TOKEN, second.clock, second.reload, second.stats)) as s2:
        other = str(s2.make_url("")).rstrip("/")
        answer = await call_admin([url, other], "wrong", "POST", "/admin/reload")
        assert (answer.base_url, answer.status) == (url, 401)
        with pytest.raises(ValueError, match="bad time"):
            await set_clock_remote([url, other], TOKEN, "yesterday")
    assert first.reloads == second.reloads == 0
    assert not second.clock.overridden


async def test_when_none_answers_the_error_names_every_address(
    capsys: pytest.CaptureFixture[str],
) -> None:
    urls = [refused_url(), refused_url()]
    with pytest.raises(AppUnreachable) as caught:
        await call_admin(urls, TOKEN, "GET", "/admin/stats")
    assert all(u in str(caught.value) for u in urls)
    assert await reload_remote(urls, TOKEN) == 1
    err = capsys.readouterr().err
    assert all(u in err for u in urls)


def test_the_configured_address_first_then_each_ivr_node_of_the_cluster(
    tmp_path: Path,
) -> None:
    s = Settings(_env_file=None, var_dir=tmp_path, cluster_port_shift=2000)
    assert admin_urls(s) == ["http://127.0.0.1:8089"]
    for name in ("kamailio", "ivr2", "ivr1"):
        (tmp_path / "cluster" / name).mkdir(parents=True)
    assert admin_urls(s) == [
        "http://127.0.0.1:8089",
        "http://127.0.0.1:10281",
        "http://127.0.0.1:10282",
    ]

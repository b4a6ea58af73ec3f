"""The lookup's PostgreSQL sessions get real-time priority only when their backend
is shown to be on this host and theirs; nothing about it ever fails a connection."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from agi_app.adapters.postgres.priority import own_backend, realtime_sessions


def _proc(root: Path, pid: int, comm: str, title: str) -> Path:
    (root / str(pid)).mkdir(parents=True)
    (root / str(pid) / "comm").write_text(comm + "\n")
    (root / str(pid) / "cmdline").write_bytes(title.encode() + b"\0")
    return root


BACKEND = "postgres: agi_app agi_app 127.0.0.1(41234) idle"


def test_a_local_backend_that_names_the_sessions_port_is_ours(tmp_path: Path) -> None:
    proc = _proc(tmp_path, 4242, "postgres", BACKEND)
    assert own_backend(4242, 41234, proc) is None


@pytest.mark.parametrize(
    ("pid", "port", "why"),
    [
        (4242, 41235, "another PostgreSQL session"),  # another session's backend
        (4243, 41234, "not a process on this host"),  # a remote server's pid
        (4244, 41234, "another program on this host"),  # a pid that is something else here
        (4242, None, "not over TCP"),  # a unix socket: nothing to match
    ],
)
def test_anything_else_keeps_its_priority(
    tmp_path: Path, pid: int, port: int | None, why: str
) -> None:
    proc = _proc(tmp_path, 4242, "postgres", BACKEND)
    _proc(proc, 4244, "asterisk", "/usr/sbin/asterisk -f 127.0.0.1(41234)")
    reason = own_backend(pid, port, proc)
    assert reason is not None and why in reason


class _Conn:
    def __init__(self, pid: int, port: int | None) -> None:
        self.pid, self.port = pid, port

    def get_server_pid(self) -> int:
        return self.pid

    async def fetchval(self, query: str) -> Any:
        assert query == "SELECT inet_client_port()"
        return self.port


async def test_the_hook_sets_sched_rr_on_its_own_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr(
        os, "sched_setscheduler", lambda pid, pol, par: calls.append((pid, pol, par.sched_priority))
    )
    init = realtime_sessions(2, _proc(tmp_path, 4242, "postgres", BACKEND))
    await init(_Conn(4242, 41234))
    await init(_Conn(4242, 9))  # not ours: left alone
    assert calls == [(4242, os.SCHED_RR, 2)]


async def test_without_permission_it_warns_once_and_the_connection_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(pid: int, policy: int, param: os.sched_param) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    init = realtime_sessions(1, _proc(tmp_path, 4242, "postgres", BACKEND))
    with caplog.at_level(logging.INFO, logger="agi_app"):
        for _ in range(3):
            await init(_Conn(4242, 41234))  # raises nothing
    warned = [r for r in caplog.records if "not set" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert "PermissionError (" in warned[0].getMessage()


async def test_a_remote_server_is_said_once_however_many_connections(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    init = realtime_sessions(1, tmp_path)  # no process of any pid here
    with caplog.at_level(logging.INFO, logger="agi_app"):
        for pid in range(100, 110):  # a pool that reconnects: a new backend each time
            await init(_Conn(pid, 41234))
    assert [r.getMessage() for r in caplog.records] == [
        "lookup sessions keep their priority: its backend's pid is not a process on this host"
    ]

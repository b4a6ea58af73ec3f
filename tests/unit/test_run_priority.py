"""`agi-app run` asks for real-time priority and carries on without it."""

from __future__ import annotations

import logging
import os

import pytest

from agi_app.entry.cli import run


def test_realtime_priority_requested_with_reset_on_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int, int]] = []

    def setscheduler(pid: int, policy: int, param: os.sched_param) -> None:
        calls.append((pid, policy, param.sched_priority))

    monkeypatch.setattr(os, "sched_setscheduler", setscheduler)
    run._realtime(3)
    assert calls == [(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, 3)]


def test_without_permission_it_warns_and_runs_normally(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(pid: int, policy: int, param: os.sched_param) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    with caplog.at_level(logging.WARNING, logger="agi_app"):
        run._realtime(1)
    assert "real-time priority 1 not set" in caplog.text

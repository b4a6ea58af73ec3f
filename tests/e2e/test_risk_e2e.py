"""Complaint risk end to end: a caller with three calls in the last day, one of
them abandoned in the queue, is scored at call start; the journey shows the
score and its reasons, and routing applies config/service.yaml's
complaint_risk (a priority boost, kept off load shedding)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import Agents, AppProcess, place_call, wait_journey

TO_AGENT = "wait 1; 1; wait 2; 0"  # bank line: Chinese, then 0 for an agent


async def _history(db: Any, e164: str) -> None:
    """Three earlier calls within the last day, the last one abandoned in the queue."""
    now = dt.datetime.now(dt.UTC)
    await db.execute("DELETE FROM customers WHERE number = $1", e164)  # an unknown caller
    for n, (outcome, queue) in enumerate(
        [("completed", None), ("completed", None), ("abandoned", "support")], start=1
    ):
        started = now - dt.timedelta(hours=6 - n)
        await db.execute(
            "INSERT INTO calls (id, caller, caller_e164, called, started_at, ended_at, outcome,"
            " queue, shedding_level) VALUES ($1, $2, $3, '95555', $4, $5, $6, $7, 0)",
            f"risk-{uuid.uuid4().hex[:10]}",
            e164.removeprefix("+86"),
            e164,
            started,
            started + dt.timedelta(minutes=2),
            outcome,
            queue,
        )


async def test_a_caller_at_risk_is_boosted_and_the_journey_says_why(
    app: AppProcess, db: Any, tmp_path: Path, agents: Agents
) -> None:
    caller = f"1390700{random.randrange(10_000):04d}"  # a history of its own, run after run
    app.stop()
    app.start({"AGI_APP_RISK_ROUTING": "1"})  # the session app records risk, routes without it
    try:
        await _served_at_risk(app, db, tmp_path, agents, caller)
    finally:
        app.stop()
        app.start()


async def _served_at_risk(
    app: AppProcess, db: Any, tmp_path: Path, agents: Agents, caller: str
) -> None:
    await agents.start("agent1", 5071, hold_ms=1000)
    await agents.start("agent2", 5072, hold_ms=1000)
    await _history(db, "+86" + caller)
    since = dt.datetime.now(dt.UTC)
    result = await place_call(tmp_path, "95555", caller, TO_AGENT, timeout_s=90)
    assert result.successful == 1, result.output
    journey = await wait_journey(db, caller, since)
    # config/risk.yaml: 3 calls in 24 h (+6), abandoned in queue (+2), 3 calls in 7 days (+1.5)
    assert journey["risk"] == 9.5
    assert journey["risk_reasons"] == [
        "calls_24h=3 (+6.0)",
        "abandoned_in_queue=1 (+2.0)",
        "calls_7d=3 (+1.5)",
    ]
    assert journey["shedding_level"] == 0 and journey["shedding_rule"] == "exempt: complaint risk"
    transfer = next(s for s in journey["steps"] if s["node_type"] == "transfer")
    assert '"priority": 3' in transfer["detail"]  # standard (0) + complaint_risk boost (3)
    assert journey["outcome"] == "transferred"

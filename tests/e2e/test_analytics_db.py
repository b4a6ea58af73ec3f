"""Analytics queries on journeys whose answers are known by construction.

Needs PostgreSQL only (not Asterisk): a scratch database with the shipped
migrations, on the configured cluster (started here if it is not running).
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from agi_app.adapters.postgres.migrate import migrate
from agi_app.core.analytics import reports
from agi_app.entry.cli.analytics import build, flow_models, render
from agi_app.service.analytics import queries
from agi_app.settings import PROJECT_ROOT, Settings
from agi_app.tools.analytics.charts import CHARTS
from agi_app.tools.analytics.generate import (
    MOBILE_JOURNEYS,
    QUEUE_WAIT_S,
    TALK_S,
    Call,
    Journey,
    Step,
    month_sample,
    stamp,
    write_calls,
)
from agi_app.tools.stack import postgres

TZ = "Asia/Shanghai"
DAY = date(2026, 10, 12)
T0 = datetime(2026, 10, 12, 10, 0, tzinfo=ZoneInfo(TZ))


@pytest.fixture(scope="module")
def pg(settings: Settings) -> Iterator[Settings]:
    started = not postgres.running(settings)
    postgres.start(settings)
    yield settings
    if started:
        postgres.stop(settings)


@pytest.fixture
async def conns(pg: Settings) -> AsyncIterator[list[Any]]:
    """Two connections to a fresh scratch database (the commands use one per core)."""
    name = f"analytics_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg.pg_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = pg.pg_dsn.rsplit("/", 1)[0] + "/" + name
    await migrate(dsn, PROJECT_ROOT / "migrations")
    both = [await asyncpg.connect(dsn), await asyncpg.connect(dsn)]
    yield both
    for c in both:
        await c.close()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
def conn(conns: list[Any]) -> Any:
    return conns[0]


def j(name: str) -> Journey:
    return MOBILE_JOURNEYS[name][0]


def with_main(journey: Journey, dwell: float, **detail: Any) -> Journey:
    steps = tuple(
        replace(s, dwell_s=dwell, detail={**s.detail, **detail}) if s.node == "main" else s
        for s in journey.steps
    )
    return replace(journey, steps=steps)


def calls_of(journeys: list[Journey], start: datetime = T0, gap_s: float = 60) -> list[Call]:
    return [
        stamp(jy, f"t-{i}", f"+861380000{i:04d}", start + timedelta(seconds=gap_s * i))
        for i, jy in enumerate(journeys)
    ]


def args(report: str, **extra: Any) -> argparse.Namespace:
    base: dict[str, Any] = {"report": report, "first": DAY, "last": DAY, "flow": None}
    return argparse.Namespace(**{**base, **extra})


def period(now: datetime | None = None) -> queries.Period:
    start = datetime(2026, 10, 12, tzinfo=ZoneInfo(TZ))
    return queries.Period(start, start + timedelta(days=1), TZ, now)


# Five balance calls (main dwell 10..50 s), one agent call, one caller who hangs
# up at the welcome, one invalid+timeout on main, and one demo_ivr call.
BALANCE = [with_main(j("balance"), d) for d in (10, 20, 30, 40, 50)]
ERRORS = with_main(j("plan"), 15, invalid=2, timeouts=1, retries=3)
DEMO = Journey(
    "demo",
    (Step("greeting", "menu", 5, "1", {"retries": 0}), Step("bye", "hangup", 2)),
    flow="demo_ivr",
    called="100",
)
FUNNEL_DAY = [*BALANCE, j("agent"), j("hangup_at_welcome"), ERRORS, DEMO]


async def test_funnel_counts_and_dwell(conn: Any) -> None:
    await write_calls(conn, calls_of(FUNNEL_DAY))
    rows, calls = await queries.funnel_rows([conn], period(), "mobile_10086")
    rep = reports.funnel(rows, calls, flow_models(PROJECT_ROOT / "flows"))
    node = {r["node"]: r for r in rep.rows}
    assert calls == {"mobile_10086": 8}
    assert "greeting" not in node  # --flow keeps the other flow out
    # The caller who hung up after the welcome was in the main menu (the flow
    # goes on there, and a menu leaves a step only once answered).
    assert node["welcome"]["visits"] == 8 and node["welcome"]["hung_up"] == 0
    main = node["main"]
    assert (main["visits"], main["asked_agent"], main["hung_up"]) == (7, 1, 1)
    without_flows = {r["node"]: r for r in reports.funnel(rows, calls).rows}
    assert (without_flows["welcome"]["hung_up"], without_flows["main"]["hung_up"]) == (1, 0)
    assert (main["invalid"], main["timeouts"]) == (2, 1)
    # A play's audio counts toward the menu after it: welcome 4 s + main's own.
    # Main dwell: 14, 24, 34, 44, 54 (balance), 19 (agent), 19 (plan).
    assert main["median_s"] == 24.0
    # Sorted 14 19 19 24 34 44 54: p90 sits at 0.9 x 6 = 5.4, between 44 and 54.
    assert main["p90_s"] == pytest.approx(48.0)
    assert node["welcome"]["median_s"] == 0.0
    # The transfer visit holds the queue and the agent's call: 240 s, 40 of them waiting.
    assert node["to_support"]["median_s"] == QUEUE_WAIT_S + TALK_S == 240.0
    assert node["to_support"]["visits"] == 1
    assert node["to_support"]["wait_median_s"] == QUEUE_WAIT_S == 40.0
    assert node["main"]["wait_median_s"] is None and "queue_wait" not in rep.summary
    assert node["balance"]["served_share"] == pytest.approx(5 / 8, abs=1e-4)
    assert node["plan"]["served_share"] == pytest.approx(1 / 8, abs=1e-4)
    assert node["bye"]["median_s"] == 3.0


async def test_paths_and_time_to_service(conn: Any) -> None:
    await write_calls(conn, calls_of(FUNNEL_DAY))
    rep = reports.paths(await queries.path_rows([conn], period(), None), top=2)
    mobile = [r for r in rep.rows if r["flow"] == "mobile_10086"]
    assert len(mobile) == 2
    top = mobile[0]
    assert top["path"] == ("entry > welcome > main > balance > say_balance > after_service > bye")
    assert (top["calls"], top["share"]) == (5, 0.625)
    # Answer to the balance result: welcome 4 + main (10..50) + transaction 0.3.
    assert top["median_to_service_s"] == pytest.approx(34.3)
    assert rep.summary["mobile_10086"]["served"] == 7  # all but the one who hung up
    # The agent call waited 40 s; no journey lacks the answer moment.
    assert rep.summary["mobile_10086"]["median_wait_s"] == 40.0
    assert "queue_wait" not in rep.summary and "to_service_estimated" not in rep.summary
    assert rep.summary["demo_ivr"]["calls"] == 1


async def test_repeat_rates(conn: Any) -> None:
    bal, agent = j("balance"), j("no_data")
    calls = [
        stamp(agent, "r1", "+8613800000001", T0),
        stamp(bal, "r2", "+8613800000001", T0 + timedelta(hours=2)),  # again within 24 h
        stamp(agent, "r3", "+8613800000002", T0),
        stamp(bal, "r4", "+8613800000002", T0 + timedelta(days=3)),  # again within 7 days
        stamp(bal, "r5", "+8613800000003", T0),
        stamp(bal, "r6", "+8613800000004", T0 - timedelta(days=2)),  # before the period
        stamp(bal, "r7", "+8613800000004", T0 + timedelta(hours=1)),
    ]
    await write_calls(conn, calls)
    rep = reports.repeats(await queries.repeat_rows([conn], period(), None))
    by = {r["last_node"]: r for r in rep.rows}
    # In the period: r1 r2 r3 r5 r7 (r4 is the repeat after it, r6 before it).
    assert (by["(all)"]["calls"], by["(all)"]["again_24h"], by["(all)"]["again_7d"]) == (5, 1, 2)
    assert by["(all)"]["rate_7d"] == 0.4
    # Both failed balance look-ups (last heard: no_data) came back; the others did not.
    assert (by["no_data"]["calls"], by["no_data"]["again_24h"], by["no_data"]["again_7d"]) == (
        2,
        1,
        2,
    )
    assert (by["say_balance"]["calls"], by["say_balance"]["again_7d"]) == (3, 0)


def agent_call(wait_s: float | None, talk_s: float) -> Journey:
    """The agent journey with this queue wait and talk time (wait None: a journey
    written before the answer was recorded, its queue visit ``talk_s`` long)."""
    steps = tuple(
        replace(s, dwell_s=(wait_s or 0) + talk_s, wait_s=wait_s)
        if s.node_type == "queue_result"
        else s
        for s in j("agent").steps
    )
    return replace(j("agent"), steps=steps)


async def test_staffing_against_published_erlang(conn: Any) -> None:
    """100 agent calls in one half hour, talked for 180 s after 25 s in the queue:
    10 Erlangs, which the pyworkforce example staffs with 14 agents at 88.8 %."""
    agent = agent_call(25.0, 180.0)
    # 100 agent calls 8.9 s apart from 10:00, then 100 balance calls.
    await write_calls(conn, calls_of([agent] * 100 + [j("balance")] * 100, T0, gap_s=8.9))
    rows, volume = await queries.staffing_rows([conn], period(), None)
    rep = reports.staffing(rows, volume, 1, reports.Targets(0.8, 20), {})
    slot = {r["slot"]: r for r in rep.rows}
    # Transfers come 19 s into a call, the last at 10:14:60: all in the 10:00 slot.
    assert list(slot) == ["10:00"]
    ten = slot["10:00"]
    assert (ten["arrivals"], ten["aht_s"], ten["erlangs"]) == (100, 180.0, 10.0)
    assert (ten["agents"], ten["service_level"], ten["occupancy"]) == (14, 0.8884, 0.7143)
    assert ten["waited_s"] == 25.0
    formula = rep.summary["resource_formula"]
    assert formula["service_share"] == 0.5 and formula["answer_rate"] == 1.0
    assert formula["volume_per_day"] == 200 and formula["aht_s"] == 180.0
    assert rep.summary["aht"] == "talk time, agent's answer to the end, of 100 answered calls"


async def test_older_journeys_fall_back_to_the_queue_visit(conn: Any) -> None:
    """60 calls recorded with the answer (30 s wait, 150 s talk) and 40 older ones
    without it (a 200 s queue visit): handling time (60 x 150 + 40 x 200) / 100 =
    170 s, the wait measured on the 60, and the output says so."""
    calls = [agent_call(30.0, 150.0)] * 60 + [agent_call(None, 200.0)] * 40
    await write_calls(conn, calls_of(calls, T0, gap_s=8.9))
    rows, volume = await queries.staffing_rows([conn], period(), None)
    rep = reports.staffing(rows, volume, 1, reports.Targets(0.8, 20), {})
    (ten,) = rep.rows
    assert (ten["arrivals"], ten["aht_s"], ten["waited_s"]) == (100, 170.0, 30.0)
    assert rep.summary["aht"] == (
        "talk time, agent's answer to the end, of 60 answered calls; 40 older journeys without "
        "the moment the agent answered: joining the queue to the end (queue wait included)"
    )
    funnel = reports.funnel(*await queries.funnel_rows([conn], period(), None))
    support = next(r for r in funnel.rows if r["node"] == "to_support")
    assert support["wait_median_s"] == 30.0 and support["median_s"] == 180.0
    assert funnel.summary["queue_wait"].startswith("queue wait of 60 answered calls; 40 older")
    # First service: the answer (welcome 4 + main 15 + wait 30 = 49 s), or for the
    # older ones joining the queue (19 s), said in the summary.
    paths = reports.paths(await queries.path_rows([conn], period(), None), top=1)
    (top,) = paths.rows
    assert (top["calls"], top["served"], top["median_wait_s"]) == (100, 100, 30.0)
    assert top["median_to_service_s"] == 49.0  # 60 at 49 s, 40 at 19 s
    summary = paths.summary["mobile_10086"]
    assert summary["median_wait_s"] == 30.0
    assert paths.summary["to_service_estimated"].startswith("40 agent calls of older journeys")


EXTRA: dict[str, dict[str, Any]] = {
    "funnel": {},
    "paths": {"top": 5},
    "repeats": {},
    "staffing": {
        "service_level": 0.8,
        "within": 20,
        "max_occupancy": 1.0,
        "aht": None,
        "default_aht_s": 180.0,
        "utilisation": 0.85,
        "attendance": 0.95,
        "shift_hours": 8.0,
        "loss_factor": 0.9,
    },
}


async def test_empty_period_renders_and_draws(conn: Any, tmp_path: Path) -> None:
    for name, more in EXTRA.items():
        rep = await build([conn], args(name, **more), TZ)
        assert rep.rows == [], name
        assert "no calls in the period" in render(rep, "table", TZ)
        CHARTS[name](rep, tmp_path / f"{name}.png")  # no warning (they are errors here)


async def test_commands_render_and_draw(conns: list[Any], tmp_path: Path) -> None:
    conn = conns[0]
    start = datetime(2026, 10, 12, tzinfo=ZoneInfo(TZ))
    for calls in month_sample(start, 1, 300, seed=3):
        await write_calls(conn, calls)
    for name, more in EXTRA.items():
        rep = await build([conn], args(name, **more), TZ)
        assert rep.rows, name
        # Two connections each take half of the day; the figures are the same.
        assert await build(conns, args(name, **more), TZ) == rep, name
        for fmt in ("table", "csv", "json"):
            assert render(rep, fmt, TZ)
        for suffix, magic in ((".png", b"\x89PNG"), (".svg", b"<?xml")):
            path = tmp_path / f"{name}{suffix}"
            CHARTS[name](rep, path)
            assert path.read_bytes().startswith(magic)


async def test_settled_days_are_kept_and_read_back(conn: Any) -> None:
    await write_calls(conn, calls_of(FUNNEL_DAY))
    fresh = reports.funnel(*await queries.funnel_rows([conn], period(), None))
    # An hour after the day: not settled, nothing kept.
    soon = period().end + timedelta(hours=1)
    assert reports.funnel(*await queries.funnel_rows([conn], period(soon), None)) == fresh
    assert await conn.fetchval("SELECT count(*) FROM analytics_days") == 0
    later = period().end + timedelta(days=1)
    assert reports.funnel(*await queries.funnel_rows([conn], period(later), None)) == fresh
    kept = await conn.fetch("SELECT report, day FROM analytics_days ORDER BY report")
    assert [(r["report"], r["day"]) for r in kept] == [("calls", DAY), ("funnel.2", DAY)]
    # Read back, not recomputed: a journey written late is not seen ...
    await write_calls(conn, [stamp(j("balance"), "late", "+8613800009999", T0)])
    cached = reports.funnel(*await queries.funnel_rows([conn], period(later), None))
    assert cached == fresh
    # ... until asked for fresh figures.
    recomputed = reports.funnel(*await queries.funnel_rows([conn], period(), None))
    assert recomputed.summary["calls"] == {"mobile_10086": 9, "demo_ivr": 1}


async def test_risk_evaluation_counts_hits_and_misses(conn: Any) -> None:
    """Known by construction: A called 3 times the day before the period and then
    asks for an agent (a hit); B has the same history, never asks (a false alarm);
    C has no history and asks (a miss); D neither (a true negative)."""
    from agi_app.core.risk import load_risk
    from agi_app.service.analytics.risk_eval import precision_recall, scored_callers

    start = datetime(2026, 11, 10, tzinfo=UTC)

    async def call(number: str, at: datetime, queue: str | None = None) -> None:
        await conn.execute(
            "INSERT INTO calls (id, caller, caller_e164, called, started_at, ended_at, outcome,"
            " queue) VALUES ($1, $2, $2, '10086', $3, $3, $4, $5)",
            f"r-{uuid.uuid4().hex[:12]}",
            number,
            at,
            "transferred" if queue else "completed",
            queue,
        )

    for number in ("+8613900000001", "+8613900000002"):
        for h in (20, 12, 4):
            await call(number, start - timedelta(hours=h))
    await call("+8613900000001", start + timedelta(hours=1), "support")
    await call("+8613900000002", start + timedelta(hours=1))
    await call("+8613900000003", start + timedelta(hours=2), "support")
    await call("+8613900000004", start + timedelta(hours=3))
    cfg = load_risk(PROJECT_ROOT / "config" / "risk.yaml")
    scored = await scored_callers(conn, start, start + timedelta(days=1), cfg, 100)
    by = {s.caller[-1]: s for s in scored}
    assert by["1"].score == by["2"].score == 7.5  # 3 calls in 24 h (+6), in 7 days (+1.5)
    assert [by[c].positive for c in "1234"] == [True, False, True, False]
    (row,) = precision_recall(scored, [cfg.threshold])
    assert (row["true_pos"], row["false_pos"], row["false_neg"], row["true_neg"]) == (1, 1, 1, 1)
    assert row["precision"] == 0.5 and row["recall"] == 0.5

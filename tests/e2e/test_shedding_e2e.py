"""Load shedding on the real stack: month-end, callbacks, the report (issue 5)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from agi_app.service.report import fetch_report, fluctuation
from tests.conftest import (
    AppProcess,
    admin,
    month_end_business_time,
    place_call,
    quiet_clock,
    wait_journey,
)

pytestmark = pytest.mark.e2e
SELF_SERVICE_THEN_BYE = "wait 2; 2; wait 4; 1; wait 6; 9"


async def test_month_end_standard_hears_self_service_first_vip_does_not(
    app: AppProcess, db: Any, tmp_path: Path
) -> None:
    status, body = await admin(
        app.settings, "POST", "/admin/clock", {"now": month_end_business_time().isoformat()}
    )
    assert status == 200 and body["overridden"]
    try:
        since = dt.datetime.now(dt.UTC)
        std, vip = await asyncio.gather(
            place_call(tmp_path, "10086", "13800000004", SELF_SERVICE_THEN_BYE),
            place_call(tmp_path, "10086", "13800000001", SELF_SERVICE_THEN_BYE),
        )
        assert std.successful == 1 and vip.successful == 1, (std.output, vip.output)
        silver = await wait_journey(db, "13800000004", since)
        assert [s["node"] for s in silver["steps"]][:2] == ["entry", "peak_notice"]
        # month_end gives level 2; with no agent free the live-load rule (level 3) wins.
        assert silver["shedding_level"] >= 2
        assert silver["shedding_rule"] in ("month_end", "no_agents_free")
        diamond = await wait_journey(db, "13800000001", since)
        assert [s["node"] for s in diamond["steps"]][:2] == ["entry", "vip_menu"]
        assert diamond["shedding_level"] == 0
    finally:
        await admin(app.settings, "POST", "/admin/clock", {"now": quiet_clock()})


async def test_report_figures_for_a_generated_month(db: Any) -> None:
    """February 2020 (29 days): volumes and shares computed by hand below."""
    await db.execute("DELETE FROM calls WHERE id LIKE 'rpt-%'")
    tz = dt.timezone(dt.timedelta(hours=8))
    rows = []
    for day in range(1, 30):
        volume = 20 if day in (1, 2, 28, 29) else 10  # month start/end peaks
        for n in range(volume):
            outcome = "transferred" if n % 5 == 0 else "completed"  # 1 in 5 to an agent
            level = 2 if day in (1, 2, 28, 29) and n % 2 else 0
            rows.append(
                (f"rpt-{day}-{n}", dt.datetime(2020, 2, day, 12, tzinfo=tz), outcome, level)
            )
    await db.executemany(
        "INSERT INTO calls (id, started_at, outcome, shedding_level) VALUES ($1, $2, $3, $4)", rows
    )
    try:
        figs = await fetch_report(db, dt.date(2020, 2, 1), dt.date(2020, 2, 29), "Asia/Shanghai")
    finally:
        await db.execute("DELETE FROM calls WHERE id LIKE 'rpt-%'")
    assert len(figs) == 29
    assert sum(f.calls for f in figs) == 4 * 20 + 25 * 10 == 330
    assert figs[0].calls == 20 and figs[0].transfer_share == 0.2 and figs[0].shed[2] == 10
    assert figs[0].self_service_share == 0.8
    assert figs[10].calls == 10 and figs[10].shed[2] == 0
    assert fluctuation(figs) == round(20 / (330 / 29), 3)  # 1.758

"""The pure parts of the analytics: percentiles and merging sliced rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from agi_app.core.analytics import reports
from agi_app.entry.cli import build_parser
from agi_app.entry.cli.analytics import flow_models
from agi_app.settings import PROJECT_ROOT


@pytest.mark.parametrize(
    ("counts", "q", "expected"),
    [
        ([(5.0, 1)], 0.5, 5.0),
        ([(1.0, 1), (2.0, 1)], 0.5, 1.5),
        ([(1.0, 3), (2.0, 1)], 0.9, 1.7),  # ranks 0..3, 0.9 x 3 = 2.7
        ([(14.0, 1), (19.0, 2), (24.0, 1), (34.0, 1), (44.0, 1), (54.0, 1)], 0.5, 24.0),
        ([(14.0, 1), (19.0, 2), (24.0, 1), (34.0, 1), (44.0, 1), (54.0, 1)], 0.9, 48.0),
        ([(3.0, 2), (1.0, 2)], 0.5, 2.0),  # order of the pairs does not matter
        ([(7.0, 0)], 0.5, None),
        ([], 0.9, None),
    ],
)
def test_percentile_table(counts: list[tuple[float, int]], q: float, expected: float) -> None:
    got = reports.percentile(counts, q)
    assert got == (None if expected is None else pytest.approx(expected))


def _funnel_row(node: str, dwell: float | None, visits: int, samples: int) -> dict[str, object]:
    base = dict.fromkeys(reports.SUMMED, 0)
    return {
        **base,
        "flow": "f",
        "node": node,
        "node_type": "menu" if dwell is not None else None,
        "dwell_s": dwell,
        "visits": visits,
        "samples": samples,
        "first_seq": 1,
        "hung_up": 1,
        "last_hint": None,
    }


def test_funnel_adds_up_slices() -> None:
    rows = [
        _funnel_row("m", 10.0, 2, 2),
        _funnel_row("m", 20.0, 1, 1),
        _funnel_row("m", None, 1, 0),
    ]
    rep = reports.funnel(rows, {"f": 4})
    (m,) = rep.rows
    assert (m["visits"], m["hung_up"], m["median_s"], m["per_call"]) == (4, 3, 10.0, 1.0)


def test_repeats_adds_up_slices() -> None:
    rows = [
        {"flow": "f", "last_node": "a", "calls": 10, "again_24h": 1, "again_7d": 2},
        {"flow": "f", "last_node": "a", "calls": 10, "again_24h": 3, "again_7d": 4},
        {"flow": "f", "last_node": "b", "calls": 5, "again_24h": 0, "again_7d": 5},
    ]
    rep = reports.repeats(rows)
    assert [(r["last_node"], r["calls"], r["rate_24h"], r["rate_7d"]) for r in rep.rows] == [
        ("(all)", 25, 0.16, 0.44),
        ("a", 20, 0.2, 0.3),
        ("b", 5, 0.0, 1.0),
    ]


def test_staffing_per_slot_and_formula() -> None:
    # Two slices of the 10:00 half hour: 150 calls with their talk time (180 s, after
    # 12 s waiting), 50 older ones whose 180 s count from joining the queue.
    rows = [
        {"queue": "q", "slot": 20, "arrivals": 150, "answered": 150, "timed": 150,
         "talk_s": 27_000, "wait_s": 1800, "estimated_s": 0},
        {"queue": "q", "slot": 20, "arrivals": 50, "answered": 50, "timed": 0,
         "talk_s": 0, "wait_s": 0, "estimated_s": 9000},
    ]  # fmt: skip
    volume = {"calls": 400, "asked_agent": 200, "answered": 180}
    rep = reports.staffing(rows, volume, 2, reports.Targets(0.8, 20), {})
    (r,) = rep.rows
    # 100 a day in the 10:00 half hour at 180 s: the published 14 agents.
    assert (r["slot"], r["arrivals"], r["aht_s"], r["agents"]) == ("10:00", 100.0, 180.0, 14)
    assert r["waited_s"] == 12.0
    assert rep.summary["aht"].endswith("of 150 answered calls; 50 older journeys without the "
                                       "moment the agent answered: joining the queue to the end "
                                       "(queue wait included)")  # fmt: skip
    f = rep.summary["resource_formula"]
    assert (f["volume_per_day"], f["service_share"], f["answer_rate"]) == (200, 0.5, 0.9)
    assert f["workload_hours"] == round(200 * 0.9 * 0.5 * 180 / 3600, 2)


def _slot(queue: str, arrivals: int, answered: int, talk_s: float) -> dict[str, object]:
    return {"queue": queue, "slot": 20, "arrivals": arrivals, "answered": answered,
            "timed": answered, "talk_s": talk_s, "wait_s": 0, "estimated_s": 0}  # fmt: skip


def test_staffing_assumes_a_handling_time_where_no_call_was_answered() -> None:
    # q: 100 calls a day in the 10:00 half hour, none answered (no agent logged in);
    # p: 10 a day, answered in 120 s.
    rows = [_slot("q", 200, 0, 0), _slot("p", 20, 20, 2400)]
    volume = {"calls": 400, "asked_agent": 220, "answered": 20}
    rep = reports.staffing(rows, volume, 2, reports.Targets(0.8, 20), {})
    p, q = rep.rows
    # Before: handling time 0, so 0 agents at service level 1.
    assert (q["aht_s"], q["aht_from"], q["agents"]) == (180.0, "assumed", 14)
    assert (p["aht_s"], p["aht_from"]) == (120.0, "measured")
    assert rep.summary["aht"].endswith(
        "; ASSUMED 180 s (--default-aht-s), not measured, for q: no call answered there"
    )
    assert rep.summary["resource_formula"]["aht_s"] == 120.0  # measured where it can be
    nobody = reports.staffing(rows[:1], volume, 2, reports.Targets(0.8, 20, default_aht_s=240), {})
    assert (nobody.rows[0]["aht_s"], nobody.rows[0]["agents"]) == (240.0, 17)  # 13.3 Erlangs
    assert nobody.summary["resource_formula"]["aht_s"] == 240.0
    given = reports.staffing(rows[:1], volume, 2, reports.Targets(0.8, 20, aht_s=90), {})
    assert (given.rows[0]["aht_from"], given.summary["aht"]) == ("given", "given (--aht)")


def test_staffing_takes_no_default_handling_time_of_zero() -> None:
    parser = build_parser()
    period = ["analytics", "staffing", "--from", "2026-12-01", "--to", "2026-12-07"]
    assert parser.parse_args(period).default_aht_s == 180.0
    assert parser.parse_args([*period, "--default-aht-s", "240"]).default_aht_s == 240.0
    for bad in ("0", "-5", "nan", "x"):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args([*period, "--default-aht-s", bad])
        assert stop.value.code == 2


MOBILE = flow_models(PROJECT_ROOT / "flows")["mobile_10086"].nodes


@pytest.mark.parametrize(
    ("node", "hint", "where"),
    [
        ("welcome", {}, "main"),  # play > dynamic menu: hung up while it played
        ("say_balance", {}, "after_service"),
        ("entry", {"case": "default"}, "entry"),  # > welcome, a play: recorded if reached
        ("entry", {"case": 0}, "suspended_menu"),
        ("balance", {"ok": True}, "balance"),  # > say_balance, a play
        ("after_service", {"digits": "1"}, "main"),
        ("to_support", {"status": "TIMEOUT"}, "callback_offer"),
        ("to_support", {}, "to_support"),  # hung up in the queue
        ("main", {"digits": "1"}, "main"),  # dynamic menu: its numbering is not recorded
        ("nowhere", {}, "nowhere"),  # a node the flow no longer has
    ],
)
def test_hung_up_in_table(node: str, hint: dict[str, object], where: str) -> None:
    assert reports.hung_up_in(MOBILE, node, hint) == where


def test_flow_models_read_a_flow_saved_as_utf16(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "flows" / "demo_ivr.yaml").read_text()
    (tmp_path / "demo.yaml").write_bytes(text.encode("utf-16"))
    (tmp_path / "junk.yaml").write_bytes(b"id: [\xff")
    assert set(flow_models(tmp_path)) == {"demo_ivr"}

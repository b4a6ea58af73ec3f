"""The cluster bench's pure parts: per-call timings from packets, the targets, the
page block and the history line."""

from __future__ import annotations

import json

import pytest

from agi_app.tools.bench import page
from agi_app.tools.bench.cluster_figures import (
    DIRECT,
    VIA,
    FailoverFigures,
    StepFigures,
    added,
    evaluate,
)
from agi_app.tools.bench.cluster_page import (
    BEGIN,
    END,
    ClusterReport,
    cluster_block,
    history_line,
    replace_cluster_block,
)
from agi_app.tools.bench.sipcapture import SipPacket
from agi_app.tools.bench.siptimes import call_timings, percentile

PROXY, IVR1, IVR2, CALLER = 5060, 5181, 5182, 15000


def pkt(at_ms: float, src: int, dst: int, what: str | int, call: str = "c1") -> SipPacket:
    method, status = (what, 0) if isinstance(what, str) else ("", what)
    return SipPacket(at_ms / 1000, src, dst, method, status, call, "INVITE", "1380000")


def test_direct_call_timed_caller_to_node() -> None:
    packets = [
        pkt(0, CALLER, IVR1, "INVITE"),
        pkt(1, IVR1, CALLER, 100),
        pkt(4.5, IVR1, CALLER, 200),
        pkt(9, IVR1, CALLER, 200),  # a retransmission does not count
    ]
    [t] = call_timings(packets, PROXY, [IVR1, IVR2])
    assert (t.target, t.answer_ms, t.final, t.transit_ms, t.node) == (IVR1, 4.5, 200, None, None)


def test_call_via_proxy_has_its_transit() -> None:
    packets = [
        pkt(0, CALLER, PROXY, "INVITE"),
        pkt(0.2, PROXY, CALLER, 100),
        pkt(0.4, PROXY, IVR2, "INVITE"),
        pkt(5.0, IVR2, PROXY, 200),
        pkt(5.3, PROXY, CALLER, 200),
    ]
    [t] = call_timings(packets, PROXY, [IVR1, IVR2])
    assert t.answer_ms == 5.3 and t.node == IVR2 and not t.failover
    assert t.transit_ms == pytest.approx(0.7)


def test_failover_call_has_no_transit_and_a_refused_call_no_answer() -> None:
    packets = [
        pkt(0, CALLER, PROXY, "INVITE", "a"),
        pkt(0.3, PROXY, IVR2, "INVITE", "a"),  # the dead node
        pkt(1000.3, PROXY, IVR1, "INVITE", "a"),  # after fr_timer
        pkt(1005, IVR1, PROXY, 200, "a"),
        pkt(1005.4, PROXY, CALLER, 200, "a"),
        pkt(2000, CALLER, PROXY, "INVITE", "b"),
        pkt(2000.3, PROXY, IVR2, "INVITE", "b"),
        pkt(3000.5, PROXY, CALLER, 503, "b"),
    ]
    a, b = call_timings(packets, PROXY, [IVR1, IVR2])
    assert (a.failover, a.transit_ms, a.answer_ms, a.node) == (True, None, 1005.4, IVR1)
    assert (b.final, b.answer_ms, b.node) == (503, None, None)


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7
    assert percentile([], 0.5) is None


def step(mode: str, rep: int, p99: float, cpu: float, transit: float | None = None) -> StepFigures:
    return StepFigures(
        mode=mode,
        rep=rep,
        rate=30,
        calls=600,
        ok=600,
        failed=0,
        retrans=0,
        answered=600,
        invite_p50_ms=4.0,
        invite_p99_ms=p99,
        sipp_rtd_p99_ms=8,
        transit_p50_ms=0.5 if transit else None,
        transit_p99_ms=transit,
        kamailio_cpu_ms_per_call=cpu,
        kamailio_cpu_pct=round(cpu * 3, 1),
        per_node={"ivr1": 300, "ivr2": 300},
        calib_ms=90,
        calib_cpu_ms=88,
        load_avg=2.5,
    )


STEPS = [
    step(DIRECT, 0, 10.0, 0.0),
    step(VIA, 0, 11.0, 0.9, 1.2),
    step(DIRECT, 1, 12.0, 0.01),
    step(VIA, 1, 16.0, 0.95, 1.5),
    step(DIRECT, 2, 9.0, 0.0),
    step(VIA, 2, 10.5, 1.3, 3.0),
]


def failover(failed: int = 0, worst: float = 1012.0) -> FailoverFigures:
    return FailoverFigures(
        rate=30,
        seconds=12,
        kill_after_s=4,
        fr_timer_ms=1000,
        before_calls=120,
        before_ok=70,
        after_calls=240,
        after_ok=240 - failed,
        after_failed=failed,
        after_worst_invite_ms=worst,
        after_failovers=3,
        marked_inactive_s=1.1,
        restart_s=0.5,
        marked_active_s=1.4,
        app_ready_s=2.0,
        after_finals={"200": 240 - failed} | ({"503": failed} if failed else {}),
        after_nodes={"ivr1": 240 - failed},
    )


def test_targets_on_medians_and_pairs() -> None:
    targets = {t.name: t for t in evaluate(STEPS, failover())}
    cpu = targets["Kamailio CPU per call"]
    assert cpu.measured is not None and cpu.measured.median == 0.95 and cpu.met
    diff = targets["INVITE→200 p99 added (via Kamailio − direct, per pair)"]
    assert diff.measured is not None
    assert (diff.measured.median, diff.measured.lo, diff.measured.hi) == (1.5, 1.0, 4.0)
    assert diff.met
    transit = targets["Kamailio transit p99 (INVITE in→out + 200 in→out)"]
    assert transit.measured is not None and transit.measured.median == 1.5 and transit.met
    assert targets["failover: calls placed after the kill that failed"].met
    assert targets["failover: worst INVITE→200 of those"].limit == 1250


def test_targets_missed() -> None:
    slow = [step(DIRECT, 0, 10.0, 0.0), step(VIA, 0, 14.0, 1.4, 2.5)]
    targets = {t.name: t.met for t in evaluate(slow, failover(failed=11, worst=1400.0))}
    assert not any(targets.values()), targets
    assert len(evaluate(slow, None)) == 3


def test_added_pairs_only_repeats_with_both_modes() -> None:
    lone = [*STEPS, step(VIA, 3, 99.0, 5.0, 9.0)]
    spread = added(lone, lambda s: s.invite_p99_ms)
    assert spread is not None and spread.n == 3


def report() -> ClusterReport:
    fail = failover()
    return ClusterReport(
        stamp="2026-12-07 10:00 UTC",
        commit="abc123",
        machine="2 cores (test)",
        command="agi-app bench cluster",
        steps=STEPS,
        failover=fail,
        targets=evaluate(STEPS, fail),
    )


def test_block_tables() -> None:
    block = cluster_block(report())
    assert block.startswith(BEGIN) and block.rstrip().endswith(END)
    assert "| Kamailio CPU per call | <= 1 ms | 0.95 (0.9-1.3) ms | yes |" in block
    assert "| INVITE→200 p99 ms | 10 (9-12) | 11 (10.5-16) | 1.5 (1-4) |" in block
    assert "| 1 | kamailio | 600 / 600 | 0 | 4 / 16 | 8 | 0.5 / 1.5 | 0.95 (2.8 %)" in block
    assert "| kill → Kamailio marks the node inactive | 1.1 s |" in block
    assert "| their final responses; answered by | 200 240; ivr1 240 |" in block


def test_block_placed_after_the_load_block_then_replaced() -> None:
    text = f"# Benchmarks\n\n{page.BEGIN}\nload\n{page.END}\n\n## Method\n\nhow\n"
    once = replace_cluster_block(text, cluster_block(report()))
    assert once.index(page.END) < once.index(BEGIN) < once.index("## Method")
    again = replace_cluster_block(once, f"{BEGIN}\nnew\n{END}\n")
    assert again.count(BEGIN) == 1 and "new" in again and "Kamailio CPU" not in again
    assert again.endswith("## Method\n\nhow\n")
    bare = replace_cluster_block("# B\n\ntext\n", f"{BEGIN}\nx\n{END}\n")
    assert bare == f"# B\n\ntext\n\n{BEGIN}\nx\n{END}\n"


def test_history_line() -> None:
    record = json.loads(history_line(report()))
    assert record["kind"] == "cluster"
    assert len(record["steps"]) == 6 and record["steps"][1]["mode"] == "kamailio"
    assert record["failover"]["after_failed"] == 0
    assert {t["target"] for t in record["targets"]} >= {"Kamailio CPU per call"}

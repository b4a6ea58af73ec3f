"""The bench's pure parts: /proc stat, CPU per process group, medians, targets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agi_app.tools.bench import procstat
from agi_app.tools.bench.figures import RunFigures
from agi_app.tools.bench.page import pg_table
from agi_app.tools.bench.pgroles import LOOKUP, MAIN, OWN
from agi_app.tools.bench.procstat import ProcTimes, parse_stat, tree_ticks
from agi_app.tools.bench.stats import (
    Spread,
    completion_pct,
    max_clean,
    nearest_rate,
    paired,
    per_calib,
    ratios_by_rep,
    total_cpu,
)
from agi_app.tools.bench.targets import breakdown, evaluate


def stat_line(pid: int, comm: str, ppid: int, ticks: tuple[int, int, int, int]) -> str:
    u, s, cu, cs = ticks
    # fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority ...
    return f"{pid} ({comm}) S {ppid} 1 1 0 -1 4194560 10 0 0 0 {u} {s} {cu} {cs} 20 0 1 0 5"


def test_stat_line_with_spaces_and_parentheses_in_the_name() -> None:
    got = parse_stat(stat_line(42, "a (b) c", 7, (11, 3, 5, 2)))
    assert got == ProcTimes(pid=42, ppid=7, utime=11, stime=3, cutime=5, cstime=2)
    assert (got.own, got.reaped) == (14, 7)


def test_this_process_reads_from_proc() -> None:
    me = procstat.read_stat(os.getpid())
    assert me is not None and me.pid == os.getpid() and me.ppid == os.getppid()


def test_a_tree_counts_descendants_and_reaped_children_once() -> None:
    table = {
        p.pid: p
        for p in [
            ProcTimes(10, 1, 100, 20, 7, 3),  # postmaster: 120 own, 10 of ended backends
            ProcTimes(11, 10, 30, 5, 0, 0),  # a backend
            ProcTimes(12, 11, 4, 1, 0, 0),  # its child
            ProcTimes(20, 1, 999, 999, 0, 0),  # someone else
        ]
    }
    assert tree_ticks(table, 10) == 120 + 10 + 35 + 5
    assert tree_ticks(table, 99) == 0


def test_groups_and_per_call_ms() -> None:
    tick = procstat.TICK
    before = {
        1: ProcTimes(1, 0, 0, 0, 0, 0),
        5: ProcTimes(5, 1, 0, 0, 0, 0),  # the bench
        6: ProcTimes(6, 5, tick, 0, 0, 0),  # the app, a child of the bench
        7: ProcTimes(7, 1, 2 * tick, 0, 0, 0),  # Asterisk
    }
    after = {
        **before,
        5: ProcTimes(5, 1, 0, 0, tick, 0),  # SIPp ran for 1 s and was reaped
        6: ProcTimes(6, 5, 2 * tick, 0, 0, 0),
        7: ProcTimes(7, 1, 6 * tick, 0, 0, 0),
    }
    roots = {"asterisk": 7, "app": 6, "postgres": None}
    g0, g1 = procstat.groups(roots, before, me=5), procstat.groups(roots, after, me=5)
    assert "postgres" not in g0
    # The bench's own tree holds the app, but the sipp group is only what it reaped.
    assert procstat.per_call_ms(g0, g1, calls=100) == {"asterisk": 40.0, "app": 10.0, "sipp": 10.0}


def test_postmaster_pid(tmp_path: Path) -> None:
    (tmp_path / "postmaster.pid").write_text("19216\n/var/lib/x/data\n1796616513\n55444\n")
    assert procstat.postmaster_pid(tmp_path) == 19216
    assert procstat.postmaster_pid(tmp_path / "none") is None


def test_spread() -> None:
    s = Spread.of([2.0, None, 1.0, 4.0])
    assert s == Spread(2.0, 1.0, 4.0, 3)
    assert s.text() == "2 (1-4)"
    assert Spread.of([None]) is None
    assert Spread(1.234, 1.234, 1.234, 1).text() == "1.23"
    assert Spread.of([1.0, 2.0]) == Spread(1.5, 1.0, 2.0, 2)


def run(
    kind: str,
    rate: float,
    rep: int,
    cpu: dict[str, float],
    *,
    clean: bool = True,
    calib: float = 100.0,
    **extra: float,
) -> RunFigures:
    calls = int(rate * 10)
    ok, failed = (calls, 0) if clean else (calls - 3, 3)
    fig = RunFigures(kind, rate, calls, ok, failed, 0, None, None, None, None, 50.0)
    fig.rep, fig.cpu_ms_per_call, fig.calib_ms = rep, cpu, calib
    for name, value in extra.items():
        setattr(fig, name, value)
    return fig


NATIVE = {"asterisk": 4.0, "postgres": 0.0, "sipp": 1.0, "app_idle": 0.1}
APP = {"asterisk": 5.0, "app": 1.5, "postgres": 0.5, "sipp": 1.0}
LAT = {"dtmf_play_p99_ms": 3.0, "lookup_p99_ms": 1.0, "loop_lag_p99_ms": 0.5}


def series() -> list[RunFigures]:
    """Three repeats at 100 and 140/s; the app is unclean at 140/s in two of them."""
    figs = []
    for rep in range(3):
        for rate in (100.0, 140.0):
            figs.append(run("native", rate, rep, NATIVE))
            figs.append(run("app", rate, rep, APP, clean=rate < 140 or rep == 2, **LAT))
    return figs


def test_max_clean_ratio_and_pairs() -> None:
    figs = series()
    assert max_clean(figs, "app", 0) == 100 and max_clean(figs, "app", 2) == 140
    assert ratios_by_rep(figs) == [round(100 / 140, 3), round(100 / 140, 3), 1.0]
    assert len(paired(figs, 100.0)) == 3
    assert nearest_rate(figs, 100) == 100 and nearest_rate(figs, 125) == 140
    assert nearest_rate(figs, 120) == 100  # a tie goes to the lower rate


def test_total_cpu_leaves_the_idle_app_out_and_divides_by_calib() -> None:
    native = run("native", 100, 0, NATIVE, calib=80)
    assert total_cpu(native) == 5.0
    assert per_calib(total_cpu)(native) == 62.5
    assert per_calib(total_cpu)(run("native", 100, 0, NATIVE, calib=0)) is None
    native.calib_cpu_ms = 50.0  # the job's CPU time, when measured, is the divisor
    assert per_calib(total_cpu)(native) == 100.0


def test_completion_of_admitted_calls() -> None:
    over = run("app-overload", 100, 0, APP)
    over.calls, over.refused, over.ok = 1000, 200, 796
    assert completion_pct(over) == 99.5
    over.refused = 1000
    assert completion_pct(over) is None


def test_targets_from_medians_with_the_gap_by_process() -> None:
    overload = [run("app-overload", 182, rep, APP) for rep in range(3)]
    for f, refused in zip(overload, (300, 320, 310), strict=True):
        f.refused, f.ok = refused, f.calls - refused
    targets = {t.name: t for t in evaluate(series(), overload)}
    ratio = targets["app max clean rate / native max clean rate"]
    assert ratio.measured is not None and ratio.measured.median == round(100 / 140, 3)
    assert ratio.met is False and "140/s: 3 failed" in ratio.gap
    cpu = targets["total CPU per call, app / native"]
    assert cpu.measured is not None and cpu.measured.median == 1.6  # 8.0 / 5.0
    assert cpu.met is False
    assert "Asterisk +1.00" in cpu.gap and "app +1.50" in cpu.gap and "total +3.00" in cpu.gap
    assert targets["app CPU per call"].met is False
    assert targets["DTMF to playback p99"].met is True
    assert targets["customer lookup p99"].met is True
    over_t = targets["overload at 1.3x native max: admitted calls completed"]
    assert over_t.met is True and "182/s offered" in over_t.where


def test_targets_read_at_the_nearest_rate_and_without_overload() -> None:
    figs = [f for f in series() if f.rate == 140]
    targets = evaluate(figs)
    assert all("no run at 100/s" in t.where for t in targets[1:5])
    assert targets[-1].met is None and targets[-1].where == "no overload run"
    assert evaluate([]) == []


@pytest.mark.parametrize("group", ["asterisk", "app", "postgres", "sipp", "total"])
def test_breakdown_has_every_group(group: str) -> None:
    rows = {r.group: r for r in breakdown(series(), 100.0)}
    assert rows[group].diff is not None and rows[group].app is not None
    if group == "app":  # no app on a native call: the difference is all of the app's CPU
        assert rows["app"].native is None and rows["app"].diff == Spread(1.5, 1.5, 1.5, 3)


def test_the_gap_names_postgresqls_part_by_session() -> None:
    figs = series()
    for f in figs:
        if f.kind == "app":
            f.pg_ms_per_call = {LOOKUP: 0.3, MAIN: 0.15, OWN: 0.05}
    cpu = {t.name: t for t in evaluate(figs)}["total CPU per call, app / native"]
    assert "PostgreSQL +0.50" in cpu.gap
    assert (
        "PostgreSQL in the app runs, ms a call: lookup pool 0.30, main pool 0.15,"
        " PostgreSQL's own 0.05" in cpu.gap
    )
    table = pg_table(figs)
    assert "| 100 | 0.3 | 0.15 | 0.05 | 0 |" in table and "| 140 |" in table
    assert pg_table(series()) == ""  # runs from before the split (history): no table
    assert "PostgreSQL in the app runs" not in evaluate(series())[1].gap

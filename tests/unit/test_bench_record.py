"""make bench keeps a short page (its generated block replaced) and a JSON-lines history."""

from __future__ import annotations

import json
from pathlib import Path

from agi_app.entry.cli.bench import record
from agi_app.tools.bench.figures import RunFigures
from agi_app.tools.bench.page import (
    BEGIN,
    END,
    Report,
    cpu_table,
    history_line,
    latest_block,
    replace_block,
    targets_table,
)
from agi_app.tools.bench.targets import evaluate


def fig(kind: str, rep: int, app_ms: float, clean: bool = True) -> RunFigures:
    ok, failed = (1500, 0) if clean else (1490, 10)
    f = RunFigures(kind, 100.0, 1500, ok, failed, 0, 4, 8, 2420, 2428, 90.0)
    f.rep, f.calib_ms = rep, 95.0
    if kind == "native":
        f.cpu_ms_per_call = {"asterisk": 6.0, "postgres": 0.0, "sipp": 1.2, "app_idle": 0.05}
    else:
        f.cpu_ms_per_call = {"asterisk": 7.0, "app": app_ms, "postgres": 0.4, "sipp": 1.2}
        f.lookup_p99_ms, f.dtmf_play_p99_ms, f.loop_lag_p99_ms = 1.2, 0.6, 0.9
    return f


def report() -> Report:
    figs = [fig(k, rep, ms) for rep, ms in enumerate((1.7, 1.9, 2.4)) for k in ("native", "app")]
    return Report(
        stamp="2026-12-03 10:00 UTC",
        commit="abc1234567",
        machine="2 cores (test)",
        command="agi-app bench --rates 100",
        figs=figs,
        targets=evaluate(figs),
    )


def test_tables_give_median_and_spread() -> None:
    rep = report()
    cpu = cpu_table(rep.figs)
    assert (
        "| 100 | app | 7 | 1.9 (1.7-2.4) | 0.4 | 1.2 | 10.5 (10.3-11) | 20 (17.89-25.26) |" in cpu
    )
    assert "| 100 | native | 6 | idle 0.05 | 0 | 1.2 | 7.2 | - | 75.79 |" in cpu
    targets = targets_table(rep.targets)
    assert "| app CPU per call | <= 1 ms | 1.9 (1.7-2.4) ms | **no** |" in targets
    assert "app +1.90" in targets  # the gap of the CPU target, by process


def test_block_inserted_under_the_title_then_replaced() -> None:
    page = "# Benchmarks\n\n## Method\n\nhow\n"
    first = replace_block(page, latest_block(report()))
    assert first.startswith("# Benchmarks\n\n" + BEGIN)
    assert first.index(END) < first.index("## Method")
    again = replace_block(first, latest_block(report()))
    assert again == first and again.count(BEGIN) == 1 and again.endswith("how\n")


def test_record_appends_one_history_line_per_run(tmp_path: Path) -> None:
    page = tmp_path / "BENCHMARKS.md"
    page.write_text("# Benchmarks\n\n## TTS\n\ntext\n")
    for _ in range(2):
        record(page, report())
    text = page.read_text()
    assert text.count("## Latest load run") == 1 and "## TTS" in text
    lines = (tmp_path / "bench-history.jsonl").read_text().splitlines()
    assert len(lines) == 2
    line = json.loads(lines[0])
    assert {"date", "commit", "machine", "command", "targets", "figures"} <= set(line)
    assert line["commit"] == "abc1234567" and len(line["figures"]) == 6
    back = RunFigures.from_dict(line["figures"][1])
    assert back.cpu_ms_per_call["app"] == 1.7 and back.rep == 0


def test_history_line_is_one_line() -> None:
    assert "\n" not in history_line(report())

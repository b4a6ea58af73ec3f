"""The soak's pure parts: what a row is read from, the goals, the page."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from agi_app.tools.bench import cluster_page, page, procstat
from agi_app.tools.bench.soak_figures import (
    Sample,
    evaluate,
    parse_channels,
    passed,
    stats_lag_p99,
    stats_tasks,
    warmup_waves,
)
from agi_app.tools.bench.soak_mix import MIX, caller_numbers, wave_calls
from agi_app.tools.bench.soak_page import (
    BEGIN,
    END,
    SoakReport,
    history_line,
    replace_soak_block,
    row_line,
    soak_block,
    verdict_lines,
)

CLI_COUNT = "3 active channels\n1 active call\n1234 calls processed\n"


@pytest.mark.parametrize(
    ("text", "count"),
    [
        (CLI_COUNT, 3),
        ("1 active channel\n0 active calls\n", 1),
        ("0 active channels\n0 active calls\n7 calls processed\n", 0),
        ("Unable to connect to remote asterisk\n", None),
    ],
)
def test_asterisk_channel_count(text: str, count: int | None) -> None:
    assert parse_channels(text) == count


def test_rss_and_open_fds_from_a_proc_folder(tmp_path: Path) -> None:
    pid = tmp_path / "4242"
    (pid / "fd").mkdir(parents=True)
    for n in range(5):
        (pid / "fd" / str(n)).touch()
    (pid / "status").write_text("Name:\tagi-app\nVmPeak:\t 900 kB\nVmRSS:\t  81234 kB\n")
    assert procstat.rss_kb(4242, tmp_path) == 81234
    assert procstat.open_fds(4242, tmp_path) == 5
    assert procstat.rss_kb(4243, tmp_path) is None  # gone
    assert procstat.open_fds(4243, tmp_path) is None
    assert procstat.parse_rss_kb("Name:\tkthreadd\n") is None  # a kernel thread has none


def test_tasks_and_loop_lag_from_admin_stats() -> None:
    stats = {"asyncio_tasks": 41, "timings": {"loop_lag_ms": {"p50": 0.4, "p99": 3.456}}}
    assert (stats_tasks(stats), stats_lag_p99(stats)) == (41, 3.46)
    assert (stats_tasks({}), stats_lag_p99({"timings": {}})) == (None, None)


def test_a_wave_places_its_calls_in_the_mix_shares() -> None:
    counts = wave_calls(30, 300)
    assert sum(counts.values()) == 9000
    assert counts == {
        "menu": 4050,
        "card": 2250,
        "sms": 2439,
        "agent": 180,
        "agent-en": 45,
        "callback": 36,
    }
    tiny = wave_calls(1, 2)  # every path at least once
    assert min(tiny.values()) == 1 and len(tiny) == len(MIX)
    assert abs(sum(p.share for p in MIX) - 1) < 1e-9


def test_callers_are_new_numbers_per_run() -> None:
    first, second = caller_numbers(417, 0, 1000), caller_numbers(417, 1000, 1000)
    assert len(set(first + second)) == 2000
    assert first[0] == "17417000000" and all(len(n) == 11 for n in first)
    assert not set(first) & set(caller_numbers(418, 0, 1000))
    with pytest.raises(ValueError, match="1,000,000"):
        caller_numbers(1, 999_999, 2)


def sample(wave: int, **changes: float | int | None) -> Sample:
    flat = Sample(
        wave=wave,
        minute=wave * 5.2,
        calls=9000 if wave else 0,
        failed=0,
        rss_mb=120.0,
        fds=40,
        tasks=30,
        pg_conns=6,
        channels=0,
        lag_p99_ms=4.0 if wave else None,
        settle_s=3.0,
    )
    return dataclasses.replace(flat, **changes)  # type: ignore[arg-type]


def run(*later: Sample) -> list[Sample]:
    """A start row, the warm-up wave (1), then ``later``."""
    return [sample(0, rss_mb=90.0, fds=30, tasks=20, pg_conns=1), sample(1), *later]


def failed_goals(samples: list[Sample]) -> list[str]:
    return [g.name for g in evaluate(samples, 1) if not g.met]


@pytest.mark.parametrize(
    ("later", "missed"),
    [
        ([sample(2, rss_mb=122.0), sample(3, rss_mb=124.9)], []),
        ([sample(2, rss_mb=123.0), sample(3, rss_mb=125.0)], ["RSS growth after warm-up"]),
        ([sample(2, fds=44), sample(3)], []),
        ([sample(2), sample(3, fds=45)], ["open file descriptors"]),
        ([sample(2, tasks=34), sample(3)], ["asyncio tasks"]),
        ([sample(2, pg_conns=9)], ["PostgreSQL connections"]),
        ([sample(2, channels=1), sample(3)], ["Asterisk channels"]),
        ([sample(2, channels=None)], ["Asterisk channels"]),
        ([sample(2, lag_p99_ms=18.0)], []),
        ([sample(2, lag_p99_ms=18.1)], ["loop lag p99"]),
        ([sample(2, failed=1)], ["failed calls"]),
        ([], ["after warm-up"]),
    ],
)
def test_the_goals(later: list[Sample], missed: list[str]) -> None:
    assert failed_goals(run(*later)) == missed
    assert passed(evaluate(run(*later), 1)) == (not missed)


def test_a_failed_call_in_the_warm_up_counts_too() -> None:
    samples = [sample(0), sample(1, failed=2), sample(2)]
    goal = evaluate(samples, 1)[-1]
    assert (goal.name, goal.value, goal.met) == ("failed calls", "2 of 18000", False)


def test_the_warm_up_is_at_least_one_wave() -> None:
    assert [warmup_waves(w, 5) for w in (0, 5, 6, 10)] == [1, 1, 2, 2]
    assert warmup_waves(1, 1) == 1


def report() -> SoakReport:
    samples = run(sample(2, rss_mb=121.5), sample(3, rss_mb=122.0, fds=41))
    return SoakReport(
        stamp="2026-12-07 08:00 UTC",
        commit="abc1234567",
        machine="2 cores",
        command="agi-app bench soak --minutes 15 --rate 30 --every 5 --warmup 5",
        warmup=1,
        samples=samples,
        goals=evaluate(samples, 1),
    )


def test_rows_verdicts_and_the_block() -> None:
    rep = report()
    assert row_line(rep.samples[0]).startswith("wave start  minute 0.0  calls 0  failed 0")
    assert "RSS MB 122  fds 41" in row_line(rep.samples[-1])
    lines = verdict_lines(rep.goals)
    assert lines[0] == "PASS  RSS growth after warm-up: +2 MB (120 -> 122) (< 5 MB)"
    assert all(line.startswith("PASS") for line in lines)
    block = soak_block(rep)
    assert block.startswith(BEGIN) and block.rstrip().endswith(END)
    assert "| 3 | 15.6 | 9000 | 0 | 122 | 41 | 30 | 6 | 0 | 4 | 3 |" in block
    assert "| failed calls | 0 | 0 of 27000 | yes |" in block


def test_the_block_goes_after_the_cluster_block_then_is_replaced() -> None:
    text = (
        f"# Benchmarks\n\n{page.BEGIN}\nx\n{page.END}\n\n"
        f"{cluster_page.BEGIN}\ny\n{cluster_page.END}\n\n## Method\n"
    )
    first = replace_soak_block(text, soak_block(report()))
    assert first.index(cluster_page.END) < first.index(BEGIN) < first.index("## Method")
    again = replace_soak_block(first, f"{BEGIN}\nnew\n{END}\n")
    assert again.count(BEGIN) == 1 and "new" in again and "| wave |" not in again
    assert again.endswith("## Method\n")


def test_history_line() -> None:
    record = json.loads(history_line(report()))
    assert record["kind"] == "soak" and record["warmup_waves"] == 1
    assert record["samples"][0]["wave"] == 0 and len(record["samples"]) == 4
    assert record["goals"][0]["met"] is True
    assert record["mix"]["menu"] == 0.45

"""The soak's output: a row per wave as it runs, its block in docs/BENCHMARKS.md
(between ``BEGIN`` and ``END``, after the cluster block) and its history line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from agi_app.tools.bench import cluster_page, page
from agi_app.tools.bench.soak_figures import Goal, Sample
from agi_app.tools.bench.soak_mix import MIX, CallPath

BEGIN = "<!-- bench:soak (written by agi-app bench soak --output; edit below END) -->"
END = "<!-- bench:soak-end -->"
HEADER = (
    "wave",
    "minute",
    "calls",
    "failed",
    "RSS MB",
    "fds",
    "tasks",
    "PG conns",
    "channels",
    "loop lag p99 ms",
    "settle s",
)


@dataclass(frozen=True)
class SoakReport:
    stamp: str
    commit: str
    machine: str
    command: str
    warmup: int  # waves
    samples: list[Sample]
    goals: list[Goal]
    mix: tuple[CallPath, ...] = MIX


def _v(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def cells(s: Sample) -> list[str]:
    return [
        str(s.wave) if s.wave else "start",
        f"{s.minute:.1f}",
        str(s.calls),
        str(s.failed),
        _v(s.rss_mb),
        _v(s.fds),
        _v(s.tasks),
        _v(s.pg_conns),
        _v(s.channels),
        _v(s.lag_p99_ms),
        f"{s.settle_s:g}",
    ]


def row_line(s: Sample) -> str:
    """One printed line per wave, as the soak runs."""
    return "  ".join(f"{name} {value}" for name, value in zip(HEADER, cells(s), strict=True))


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def samples_table(samples: Sequence[Sample]) -> str:
    return _table(HEADER, [cells(s) for s in samples])


def goals_table(goals: Sequence[Goal]) -> str:
    rows = [[g.name, g.limit, g.value, "yes" if g.met else "**no**"] for g in goals]
    return _table(("goal", "limit", "value", "met?"), rows)


def verdict_lines(goals: Sequence[Goal]) -> list[str]:
    """One line per goal, for the terminal."""
    return [f"{'PASS' if g.met else 'FAIL'}  {g.name}: {g.value} ({g.limit})" for g in goals]


def soak_block(rep: SoakReport) -> str:
    mix = ", ".join(f"{p.name} {100 * p.share:g} %" for p in rep.mix)
    parts = [
        BEGIN,
        "## Soak: a long run that stays flat",
        f"{rep.stamp}, commit `{rep.commit}`: `{rep.command}`  \n"
        f'Machine: {rep.machine}  \nMix: {mix} (method: docs/BENCH-METHOD.md, "Soak"). '
        f"Rows are taken once each wave's calls have ended; the baseline is the row of "
        f"wave {rep.warmup} (end of warm-up).",
        goals_table(rep.goals),
        samples_table(rep.samples),
        END,
    ]
    return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def replace_soak_block(text: str, block: str) -> str:
    """``text`` with the soak block replaced; the first time, after the cluster block
    (or the load run's)."""
    return page.replace_marked(text, BEGIN, END, block, [cluster_page.END, page.END])


def history_line(rep: SoakReport) -> str:
    record = {
        "kind": "soak",
        "date": rep.stamp,
        "commit": rep.commit,
        "machine": rep.machine,
        "command": rep.command,
        "warmup_waves": rep.warmup,
        "mix": {p.name: p.share for p in rep.mix},
        "goals": [g.as_dict() for g in rep.goals],
        "samples": [asdict(s) for s in rep.samples],
    }
    return json.dumps(record, ensure_ascii=False)

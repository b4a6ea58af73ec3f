"""The bench's output: markdown tables, the page's latest-run block, the history line.

``docs/BENCHMARKS.md`` stays a short current page: ``agi-app bench --output``
replaces the block between ``BEGIN`` and ``END`` (inserted under the title the
first time) and appends one JSON line per run to ``bench-history.jsonl``
beside the page. Everything here is pure: the caller reads the clock, git and
the machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agi_app.tools.bench.figures import RunFigures
from agi_app.tools.bench.pgroles import BUCKETS
from agi_app.tools.bench.stats import (
    GROUP_NAMES,
    completion_pct,
    group_cpu,
    over,
    per_calib,
    pg_cpu,
    rates_of,
    runs_of,
    spread_text,
    total_cpu,
)
from agi_app.tools.bench.targets import Target

BEGIN = "<!-- bench:latest (written by agi-app bench --output; edit below END) -->"
END = "<!-- bench:end -->"


@dataclass
class Report:
    """One bench run: what was run, where, and every run's figures."""

    stamp: str  # "2026-12-03 10:00 UTC"
    commit: str
    machine: str
    command: str
    figs: list[RunFigures]
    targets: list[Target]
    overload: list[RunFigures] = field(default_factory=list)
    admission: dict[str, Any] = field(default_factory=dict)
    levers: list[RunFigures] = field(default_factory=list)


def run_line(f: RunFigures) -> str:
    """One line per run while the bench goes (progress, not the page)."""
    cpu = " ".join(f"{k}={v:g}" for k, v in f.cpu_ms_per_call.items())
    return (
        f"rep {f.rep} {f.kind} {f.rate:g}/s: {f.ok}/{f.calls} ok, {f.failed} failed, "
        f"{f.retrans} retrans, refused {f.refused}; CPU ms/call {cpu}; "
        f"calib {f.calib_ms}/{f.calib_cpu_ms} ms"
    )


def targets_table(targets: Sequence[Target]) -> str:
    rows = [
        "| target | limit | median (min-max) | met? | read at | where the gap is |",
        "|---|---|---|---|---|---|",
    ]
    for t in targets:
        sign = ">=" if t.at_least else "<="
        met = {True: "yes", False: "**no**", None: "not measured"}[t.met]
        gap = t.gap if t.met is False else ""
        unit = f" {t.unit}" if t.unit else ""
        measured = f"{t.measured.text()}{unit}" if t.measured else "-"
        rows.append(
            f"| {t.name} | {sign} {t.limit:g}{unit} | {measured} | {met} | {t.where} | {gap} |"
        )
    return "\n".join(rows) + "\n"


def rate_table(figs: Sequence[RunFigures]) -> str:
    """Outcome and latency per rate and mode, medians (min-max) over the repeats."""
    rows = [
        "| rate/s | mode | clean runs | failed | retrans | INVITE→200 p99 ms | "
        "DTMF→BYE p99 ms | Asterisk CPU % | lookup p99 ms | DTMF→play p99 ms | "
        "loop lag p99 ms | calib ms wall / CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rate in rates_of(figs):
        for kind in ("native", "app"):
            runs = runs_of(figs, kind, rate)
            if not runs:
                continue
            clean = sum(r.clean for r in runs)

            def cell(get: Any, digits: int = 2, runs: list[RunFigures] = runs) -> str:
                return spread_text(over(runs, get), digits)

            rows.append(
                f"| {rate:g} | {kind} | {clean}/{len(runs)} | {cell(lambda r: r.failed, 0)} "
                f"| {cell(lambda r: r.retrans, 0)} | {cell(lambda r: r.invite_p99_ms, 0)} "
                f"| {cell(lambda r: r.dtmf_bye_p99_ms, 0)} "
                f"| {cell(lambda r: r.asterisk_cpu_pct, 0)} | {cell(lambda r: r.lookup_p99_ms)} "
                f"| {cell(lambda r: r.dtmf_play_p99_ms)} | {cell(lambda r: r.loop_lag_p99_ms)} "
                f"| {cell(lambda r: r.calib_ms, 0)} / {cell(lambda r: r.calib_cpu_ms, 0)} |"
            )
    return "\n".join(rows) + "\n"


def cpu_table(figs: Sequence[RunFigures]) -> str:
    """CPU ms per call of each process group, and the total also per calibration."""
    names = [GROUP_NAMES[g] for g in GROUP_NAMES]
    rows = [
        f"| rate/s | mode | {' | '.join(names)} | total | app ÷ calib x1000 "
        "| total ÷ calib x1000 |",
        "|---|---|" + "---|" * (len(names) + 3),
    ]
    for rate in rates_of(figs):
        for kind in ("native", "app"):
            runs = runs_of(figs, kind, rate)
            if not runs:
                continue
            cells = []
            for g in GROUP_NAMES:
                cell = spread_text(over(runs, group_cpu(g)))
                if kind == "native" and g == "app":
                    idle = over(runs, group_cpu("app_idle"))
                    cell = f"idle {spread_text(idle)}" if idle else "-"
                cells.append(cell)
            total = spread_text(over(runs, total_cpu))
            app = spread_text(over(runs, per_calib(group_cpu("app"))))
            norm = spread_text(over(runs, per_calib(total_cpu)))
            rows.append(f"| {rate:g} | {kind} | {' | '.join(cells)} | {total} | {app} | {norm} |")
    return "\n".join(rows) + "\n"


def pg_table(figs: Sequence[RunFigures]) -> str:
    """PostgreSQL's CPU ms per call in the app runs, by who spent it ("" if unmeasured)."""
    rows = ["| rate/s | " + " | ".join(BUCKETS) + " |", "|---|" + "---|" * len(BUCKETS)]
    for rate in rates_of(figs, ("app",)):
        runs = [r for r in runs_of(figs, "app", rate) if r.pg_ms_per_call]
        if runs:
            cells = [spread_text(over(runs, pg_cpu(who)), 3) for who in BUCKETS]
            rows.append(f"| {rate:g} | {' | '.join(cells)} |")
    return "\n".join(rows) + "\n" if len(rows) > 2 else ""


def overload_table(runs: Sequence[RunFigures], admission: dict[str, Any]) -> str:
    rows = [
        "| repeat | offered/s | calls | refused busy | admitted | completed | completed % "
        "| retrans | app CPU ms/call |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        rows.append(
            f"| {r.rep} | {r.rate:g} | {r.calls} | {r.refused} | {r.calls - r.refused} "
            f"| {r.ok} | {completion_pct(r)} | {r.retrans} | {_d(r.cpu_ms_per_call.get('app'))} |"
        )
    cap, limit = admission.get("concurrent_cap"), admission.get("rate_limit")
    return (
        f"Admission: concurrent-call cap {cap}, rate limit {limit}/s.\n\n" + "\n".join(rows) + "\n"
    )


def lever_table(runs: Sequence[RunFigures]) -> str:
    rows = [
        "| app run | clean | app ms/call | Asterisk ms/call | total ms/call | lookup p99 ms "
        "| DTMF→play p99 ms | loop lag p99 ms | calib ms wall / CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        cpu = r.cpu_ms_per_call
        rows.append(
            f"| {r.kind} | {'yes' if r.clean else 'no'} | {_d(cpu.get('app'))} "
            f"| {_d(cpu.get('asterisk'))} | {_d(total_cpu(r))} | {_d(r.lookup_p99_ms)} "
            f"| {_d(r.dtmf_play_p99_ms)} | {_d(r.loop_lag_p99_ms)} "
            f"| {_d(r.calib_ms)} / {_d(r.calib_cpu_ms)} |"
        )
    return "\n".join(rows) + "\n"


def _d(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def latest_block(rep: Report) -> str:
    """The page's generated block: latest run, targets, per-rate and CPU tables."""
    n = max((f.rep for f in rep.figs), default=0) + 1
    parts = [
        BEGIN,
        "## Latest load run",
        f"{rep.stamp}, commit `{rep.commit}`: `{rep.command}`  \nMachine: {rep.machine}",
        f"Every rate ran native and app interleaved {n} time{'s' if n > 1 else ''}; each "
        "figure is the median and (min-max) of the runs. Method: docs/BENCH-METHOD.md.",
        "### Targets",
        targets_table(rep.targets),
        "### Outcome and latency per rate",
        rate_table(rep.figs),
        "### CPU ms per call, by process",
        cpu_table(rep.figs),
    ]
    pg = pg_table(rep.figs)
    if pg:
        parts += ["### PostgreSQL CPU ms per call in the app runs, by session", pg]
    if rep.overload:
        parts += [
            "### Overload (1.3x the native maximum)",
            overload_table(rep.overload, rep.admission),
        ]
    if rep.levers:
        parts += ["### Levers (one run each, at one rate)", lever_table(rep.levers)]
    parts.append(END)
    return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def replace_block(page: str, block: str) -> str:
    """``page`` with its generated block replaced (or put under the title)."""
    if BEGIN in page and END in page:
        head, rest = page.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + block.rstrip("\n") + tail
    title, _, rest = page.partition("\n")
    if not title.startswith("# "):
        return block + "\n" + page
    rest = rest.lstrip("\n")
    return f"{title}\n\n{block}" + (f"\n{rest}" if rest else "")


def replace_marked(text: str, begin: str, end: str, block: str, after: Sequence[str]) -> str:
    """``text`` with the block between ``begin`` and ``end`` replaced; the first
    time, put after the first of the ``after`` markers the page has (or at its end)."""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        return head + block.rstrip("\n") + rest.split(end, 1)[1]
    for mark in after:
        if mark in text:
            head, tail = text.split(mark, 1)
            return f"{head}{mark}\n\n{block.rstrip(chr(10))}{tail}"
    return text.rstrip("\n") + "\n\n" + block


def write_page(page: Path, history: str, replace: Callable[[str], str]) -> None:
    """One line appended to the history (``bench-history.jsonl`` beside ``page``);
    ``page`` rewritten by ``replace`` (a new page starts with its title)."""
    with page.with_name("bench-history.jsonl").open("a") as fh:
        fh.write(history + "\n")
    text = page.read_text() if page.exists() else "# Benchmarks\n"
    page.write_text(replace(text))


def history_line(rep: Report) -> str:
    """One JSON line: date, commit, machine, command, targets and every run."""
    record = {
        "date": rep.stamp,
        "commit": rep.commit,
        "machine": rep.machine,
        "command": rep.command,
        "targets": [t.as_dict() for t in rep.targets],
        "admission": rep.admission,
        "figures": [asdict(f) for f in [*rep.figs, *rep.overload, *rep.levers]],
    }
    return json.dumps(record, ensure_ascii=False, default=str)

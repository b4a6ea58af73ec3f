"""The cluster bench's output: its block in docs/BENCHMARKS.md and its history line.

The block sits between ``BEGIN`` and ``END`` (put after the load run's block
the first time); `agi-app bench cluster --output PAGE` replaces it and
appends one JSON line (``"kind": "cluster"``) to ``bench-history.jsonl``
beside the page. Pure: the caller reads the clock, git and the machine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from agi_app.tools.bench import page
from agi_app.tools.bench.cluster_figures import (
    DIRECT,
    VIA,
    FailoverFigures,
    StepFigures,
    added,
    of_mode,
)
from agi_app.tools.bench.page import targets_table
from agi_app.tools.bench.stats import spread_text
from agi_app.tools.bench.targets import Target

BEGIN = "<!-- bench:cluster (written by agi-app bench cluster --output; edit below END) -->"
END = "<!-- bench:cluster-end -->"


@dataclass
class ClusterReport:
    stamp: str
    commit: str
    machine: str
    command: str
    steps: list[StepFigures]
    failover: FailoverFigures | None
    targets: list[Target]


def step_line(s: StepFigures) -> str:
    """One line per step while the bench goes."""
    return (
        f"rep {s.rep} {s.mode} {s.rate:g}/s: {s.ok}/{s.calls} ok, {s.failed} failed, "
        f"{s.retrans} retrans; INVITE→200 p50 {_d(s.invite_p50_ms)} p99 {_d(s.invite_p99_ms)} ms; "
        f"transit p99 {_d(s.transit_p99_ms)} ms; Kamailio {_d(s.kamailio_cpu_ms_per_call)} "
        f"ms/call; nodes {s.per_node}"
    )


def steps_table(steps: Sequence[StepFigures]) -> str:
    rows = [
        "| repeat | mode | ok / placed | retrans | INVITE→200 p50 / p99 ms | SIPp rtd p99 ms "
        "| Kamailio transit p50 / p99 ms | Kamailio CPU ms/call (% of a core) "
        "| answered per node | calib ms wall / CPU | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in steps:
        nodes = ", ".join(f"{k} {v}" for k, v in sorted(s.per_node.items()))
        rows.append(
            f"| {s.rep} | {s.mode} | {s.ok} / {s.calls} | {s.retrans} "
            f"| {_d(s.invite_p50_ms)} / {_d(s.invite_p99_ms)} | {_d(s.sipp_rtd_p99_ms)} "
            f"| {_d(s.transit_p50_ms)} / {_d(s.transit_p99_ms)} "
            f"| {_d(s.kamailio_cpu_ms_per_call)} ({_d(s.kamailio_cpu_pct)} %) | {nodes} "
            f"| {_d(s.calib_ms)} / {_d(s.calib_cpu_ms)} | {_d(s.load_avg)} |"
        )
    return "\n".join(rows) + "\n"


def medians_table(steps: Sequence[StepFigures]) -> str:
    """Direct, via Kamailio and the difference per pair, medians (min-max)."""
    rows = ["| figure | direct | via Kamailio | via − direct, per pair |", "|---|---|---|---|"]
    for name, get in (
        ("INVITE→200 p50 ms", lambda s: s.invite_p50_ms),
        ("INVITE→200 p99 ms", lambda s: s.invite_p99_ms),
        ("Kamailio CPU ms per call", lambda s: s.kamailio_cpu_ms_per_call),
    ):
        rows.append(
            f"| {name} | {spread_text(of_mode(steps, DIRECT, get))} "
            f"| {spread_text(of_mode(steps, VIA, get))} | {spread_text(added(steps, get))} |"
        )
    for name, get in (
        ("Kamailio transit p50 ms", lambda s: s.transit_p50_ms),
        ("Kamailio transit p99 ms", lambda s: s.transit_p99_ms),
    ):
        rows.append(f"| {name} | - | {spread_text(of_mode(steps, VIA, get))} | - |")
    return "\n".join(rows) + "\n"


def failover_table(f: FailoverFigures) -> str:
    rows = [
        "| figure | value |",
        "|---|---|",
        f"| calls through Kamailio | {f.rate:g}/s for {f.seconds:g} s; ivr2's Asterisk "
        f"killed (-9) after {f.kill_after_s:g} s |",
        f"| placed before the kill: completed | {f.before_ok} / {f.before_calls} "
        "(the calls up on the killed node end) |",
        f"| placed after the kill: completed / failed | {f.after_ok} / {f.after_calls}, "
        f"{f.after_failed} failed |",
        f"| of those, sent to the dead node first (failed over after fr_timer "
        f"{f.fr_timer_ms} ms) | {f.after_failovers} |",
        f"| worst INVITE→200 of those | {_d(f.after_worst_invite_ms)} ms |",
        f"| their final responses; answered by | {_counts(f.after_finals)}; "
        f"{_counts(f.after_nodes)} |",
        f"| kill → Kamailio marks the node inactive | {_d(f.marked_inactive_s)} s |",
        f"| Asterisk restart (restart_asterisk) took | {_d(f.restart_s)} s |",
        f"| restart begun → marked active | {_d(f.marked_active_s)} s |",
        f"| restart begun → the node's app ready | {_d(f.app_ready_s)} s |",
    ]
    return "\n".join(rows) + "\n"


def cluster_block(rep: ClusterReport) -> str:
    n = len({s.rep for s in rep.steps})
    parts = [
        BEGIN,
        "## Cluster: what Kamailio costs, and failover",
        f"{rep.stamp}, commit `{rep.commit}`: `{rep.command}`  \nMachine: {rep.machine}",
        "Two IVR nodes, the queue node and Kamailio on this one machine, shared with "
        f"other work while it ran. Direct and via Kamailio alternated {n} times; "
        "each figure is the median (min-max). INVITE→200 from the captured packets "
        '(kernel timestamps); SIPp\'s rtd ticks in 4 ms. Method: docs/BENCH-METHOD.md, "Cluster".',
        "### Targets",
        targets_table(rep.targets),
        "### Direct and via Kamailio",
        medians_table(rep.steps),
        steps_table(rep.steps),
    ]
    if rep.failover is not None:
        parts += ["### Failover", failover_table(rep.failover)]
    parts.append(END)
    return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def replace_cluster_block(text: str, block: str) -> str:
    """``text`` with the cluster block replaced; the first time, put after the load
    run's block (or at the end of the page)."""
    return page.replace_marked(text, BEGIN, END, block, [page.END])


def history_line(rep: ClusterReport) -> str:
    record = {
        "kind": "cluster",
        "date": rep.stamp,
        "commit": rep.commit,
        "machine": rep.machine,
        "command": rep.command,
        "targets": [t.as_dict() for t in rep.targets],
        "steps": [asdict(s) for s in rep.steps],
        "failover": asdict(rep.failover) if rep.failover else None,
    }
    return json.dumps(record, ensure_ascii=False)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"


def _d(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"

"""The figures of the cluster bench (`agi-app bench cluster`) and its targets: pure.

A *step* is one stretch of calls at a fixed rate, either ``direct`` (each IVR
node's SIP port called by its own SIPp, the rate split evenly, so the nodes
carry what they carry through the proxy) or ``kamailio`` (one SIPp at the
whole rate to Kamailio). Steps alternate direct, kamailio, direct, ... and
every figure is the median (min-max) over the repeats. The failover run is
one run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agi_app.tools.bench.stats import Spread
from agi_app.tools.bench.targets import Target

DIRECT, VIA = "direct", "kamailio"
CPU_LIMIT_MS = 1.0  # Kamailio CPU per call
ADDED_P99_LIMIT_MS = 2.0  # what Kamailio adds to INVITE->200 at p99
FAILOVER_SLACK_MS = 250  # beyond fr_timer for the worst call placed after a kill


@dataclass
class StepFigures:
    mode: str  # DIRECT or VIA
    rep: int
    rate: float
    calls: int
    ok: int
    failed: int
    retrans: int
    answered: int  # calls whose 200 was captured
    invite_p50_ms: float | None  # INVITE -> 200 at the caller, from the capture
    invite_p99_ms: float | None
    sipp_rtd_p99_ms: float | None  # SIPp's own rtd 1 (4 ms ticks), for comparison
    transit_p50_ms: float | None = None  # Kamailio's own part (VIA only)
    transit_p99_ms: float | None = None
    kamailio_cpu_ms_per_call: float | None = None
    kamailio_cpu_pct: float | None = None  # of one core, over the step
    per_node: dict[str, int] = field(default_factory=dict)  # calls answered by each node
    calib_ms: float | None = None
    calib_cpu_ms: float | None = None
    load_avg: float | None = None

    @property
    def clean(self) -> bool:
        return self.failed == 0 and self.retrans == 0 and self.ok == self.calls


@dataclass
class FailoverFigures:
    rate: float
    seconds: float
    kill_after_s: float
    fr_timer_ms: int
    before_calls: int  # placed before the kill (those up on the killed node end)
    before_ok: int
    after_calls: int  # placed after the kill
    after_ok: int
    after_failed: int  # the calls the target counts
    after_worst_invite_ms: float | None  # INVITE -> 200, worst call placed after the kill
    after_failovers: int  # of those, sent to the dead node first
    marked_inactive_s: float | None  # kill -> Kamailio shows the node inactive
    restart_s: float | None  # restart_asterisk() took
    marked_active_s: float | None  # restart begun -> Kamailio shows it active
    app_ready_s: float | None  # restart begun -> the node's app ready again
    # Of the calls placed after the kill: the first final response each got
    # ("none": no final response captured) and the node that answered.
    after_finals: dict[str, int] = field(default_factory=dict)
    after_nodes: dict[str, int] = field(default_factory=dict)


def paired(steps: Sequence[StepFigures]) -> list[tuple[StepFigures, StepFigures]]:
    """(direct, kamailio) steps of the same repeat."""
    out = []
    for rep in sorted({s.rep for s in steps}):
        d = [s for s in steps if s.mode == DIRECT and s.rep == rep]
        v = [s for s in steps if s.mode == VIA and s.rep == rep]
        if d and v:
            out.append((d[0], v[0]))
    return out


def of_mode(
    steps: Sequence[StepFigures], mode: str, get: Callable[[StepFigures], float | None]
) -> Spread | None:
    return Spread.of(get(s) for s in steps if s.mode == mode)


def added(
    steps: Sequence[StepFigures], get: Callable[[StepFigures], float | None]
) -> Spread | None:
    """Kamailio minus direct of one figure, per repeat pair."""
    diffs = []
    for d, v in paired(steps):
        a, b = get(v), get(d)
        if a is not None and b is not None:
            diffs.append(round(a - b, 3))
    return Spread.of(diffs)


def evaluate(steps: Sequence[StepFigures], failover: FailoverFigures | None) -> list[Target]:
    """The targets of issue 14 point 8, on the medians of the steps and the failover run."""
    rate = steps[0].rate if steps else 0.0
    at = f"at {rate:g} calls/s, {len([s for s in steps if s.mode == VIA])} steps"
    direct99 = of_mode(steps, DIRECT, lambda s: s.invite_p99_ms)
    via99 = of_mode(steps, VIA, lambda s: s.invite_p99_ms)
    rows = [
        Target(
            "Kamailio CPU per call",
            of_mode(steps, VIA, lambda s: s.kamailio_cpu_ms_per_call),
            CPU_LIMIT_MS,
            at_least=False,
            unit="ms",
            where=at,
            gap="utime+stime of every Kamailio process; see the CPU % per step",
        ),
        Target(
            "INVITE→200 p99 added (via Kamailio − direct, per pair)",
            added(steps, lambda s: s.invite_p99_ms),
            ADDED_P99_LIMIT_MS,
            at_least=False,
            unit="ms",
            where=f"{at}; p99 direct {_t(direct99)}, via {_t(via99)} ms",
            gap="the pairs differ by the nodes' own p99 from minute to minute: "
            "Kamailio's transit (next row) is its own share",
        ),
        Target(
            "Kamailio transit p99 (INVITE in→out + 200 in→out)",
            of_mode(steps, VIA, lambda s: s.transit_p99_ms),
            ADDED_P99_LIMIT_MS,
            at_least=False,
            unit="ms",
            where=at,
            gap="Kamailio waiting for a CPU behind the nodes (2 cores shared)",
        ),
    ]
    if failover is not None:
        rows += failover_targets(failover)
    return rows


def failover_targets(f: FailoverFigures) -> list[Target]:
    where = (
        f"{f.after_calls} calls placed after kill -9 of a node at {f.rate:g}/s; "
        f"{f.after_failovers} sent to the dead node first"
    )
    return [
        Target(
            "failover: calls placed after the kill that failed",
            Spread.of([f.after_failed]),
            0,
            at_least=False,
            where=where,
        ),
        Target(
            "failover: worst INVITE→200 of those",
            Spread.of([f.after_worst_invite_ms]),
            f.fr_timer_ms + FAILOVER_SLACK_MS,
            at_least=False,
            unit="ms",
            where=f"fr_timer {f.fr_timer_ms} ms + {FAILOVER_SLACK_MS} ms",
        ),
    ]


def _t(s: Spread | None) -> str:
    return "-" if s is None else s.text()

"""The load targets of issue 18, evaluated on the medians of the repeated runs.

Each target gives its median and spread; a missed one says where the gap is:
per process (Asterisk, app, PostgreSQL, SIPp) CPU per call, app mode against
native at the reference rate, and PostgreSQL's part by who spent it (the app's
lookup pool, its main pool, PostgreSQL's own processes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agi_app.tools.bench.figures import RunFigures
from agi_app.tools.bench.pgroles import BUCKETS
from agi_app.tools.bench.stats import (
    GROUP_NAMES,
    Spread,
    completion_pct,
    group_cpu,
    max_clean,
    max_clean_spread,
    nearest_rate,
    over,
    paired,
    pg_cpu,
    ratios_by_rep,
    reps_of,
    runs_of,
    spread_text,
    total_cpu,
)

REFERENCE_RATE = 100.0


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    measured: Spread | None
    limit: float
    at_least: bool  # True: the median must reach ``limit``; False: stay below it
    unit: str = ""
    where: str = ""  # the rate it was read at, or why it could not be
    gap: str = ""  # where the difference comes from, when missed

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        m = self.measured.median
        return m >= self.limit if self.at_least else m <= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.name,
            "measured": self.measured.as_dict() if self.measured else None,
            "limit": self.limit,
            "met": self.met,
            "where": self.where,
            "gap": self.gap,
        }


@dataclass(frozen=True, slots=True)
class Breakdown:
    """CPU ms per call of one group, native and app mode, at one rate."""

    group: str
    native: Spread | None
    app: Spread | None
    diff: Spread | None  # app - native, per repeat pair


def breakdown(figs: Sequence[RunFigures], rate: float) -> list[Breakdown]:
    """Per group and in total: native, app and (app - native) per call at ``rate``."""
    pairs = paired(figs, rate)
    rows = []
    for name in (*GROUP_NAMES, "total"):
        get = total_cpu if name == "total" else group_cpu(name)
        # A native call has no app: its share of the difference is all of it.
        diffs = [_minus(get(a), 0.0 if name == "app" else get(n)) for n, a in pairs]
        rows.append(
            Breakdown(
                name,
                over(runs_of(figs, "native", rate), get),
                over(runs_of(figs, "app", rate), get),
                Spread.of(diffs),
            )
        )
    return rows


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 3)


def gap_text(rows: Sequence[Breakdown], rate: float) -> str:
    """``app mode - native at 100/s, ms CPU per call: Asterisk +0.9, app +1.7, ...``"""
    parts = [
        f"{GROUP_NAMES.get(r.group, r.group)} {r.diff.median:+.2f}"
        for r in rows
        if r.diff is not None
    ]
    return f"app - native at {rate:g}/s, ms CPU per call: " + ", ".join(parts) if parts else ""


def pg_text(app_runs: Sequence[RunFigures]) -> str:
    """``PostgreSQL in the app runs: lookup pool 0.98, main pool 0.42, ...`` (medians)."""
    parts = []
    for who in BUCKETS:
        spread = over(app_runs, pg_cpu(who))
        if spread is not None and spread.median > 0:
            parts.append(f"{who} {spread.median:.2f}")
    return "PostgreSQL in the app runs, ms a call: " + ", ".join(parts) if parts else ""


def evaluate(
    figs: Sequence[RunFigures],
    overload: Sequence[RunFigures] = (),
    reference: float = REFERENCE_RATE,
) -> list[Target]:
    """Every target from the interleaved runs ``figs`` and the ``overload`` runs."""
    ref = nearest_rate(figs, reference)
    if ref is None:
        return []
    at = f"at {ref:g}/s" + ("" if ref == reference else f" (no run at {reference:g}/s)")
    rows = breakdown(figs, ref)
    app_ref = runs_of(figs, "app", ref)
    gap = "; ".join(t for t in (gap_text(rows, ref), pg_text(app_ref)) if t)
    ratio_pairs = [_div(total_cpu(a), total_cpu(n)) for n, a in paired(figs, ref) if total_cpu(n)]
    return [
        Target(
            "app max clean rate / native max clean rate",
            Spread.of(ratios_by_rep(figs)),
            0.95,
            at_least=True,
            where=_max_clean_where(figs),
            gap=_unclean_text(figs) + ("; " + gap if gap else ""),
        ),
        Target(
            "total CPU per call, app / native",
            Spread.of(ratio_pairs),
            1.15,
            at_least=False,
            where=at,
            gap=gap,
        ),
        Target(
            "app CPU per call",
            over(app_ref, group_cpu("app")),
            1.0,
            at_least=False,
            unit="ms",
            where=at,
            gap="the app process alone; `agi-app bench --profile app` shows where it goes",
        ),
        Target(
            "DTMF to playback p99",
            over(app_ref, lambda r: r.dtmf_play_p99_ms),
            10.0,
            at_least=False,
            unit="ms",
            where=at,
            gap=_latency_gap(app_ref),
        ),
        Target(
            "customer lookup p99",
            over(app_ref, lambda r: r.lookup_p99_ms),
            2.0,
            at_least=False,
            unit="ms",
            where=at,
            gap=_latency_gap(app_ref),
        ),
        Target(
            "overload at 1.3x native max: admitted calls completed",
            over(overload, completion_pct),
            99.0,
            at_least=True,
            unit="%",
            where=_overload_where(overload) if overload else "no overload run",
        ),
    ]


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


def _max_clean_where(figs: Sequence[RunFigures]) -> str:
    native = spread_text(max_clean_spread(figs, "native"), 0)
    app = spread_text(max_clean_spread(figs, "app"), 0)
    return f"max clean calls/s: native {native}, app {app}"


def _unclean_text(figs: Sequence[RunFigures]) -> str:
    """Per repeat, the lowest rate at which the app did not run clean, and why."""
    parts = []
    for rep in reps_of(figs):
        native = max_clean(figs, "native", rep) or 0.0
        bad = sorted(
            (f for f in figs if f.kind == "app" and f.rep == rep and not f.clean),
            key=lambda f: f.rate,
        )
        if bad and bad[0].rate <= native:
            f = bad[0]
            parts.append(f"{f.rate:g}/s: {f.failed} failed, {f.retrans} retransmissions")
    return "app first unclean at " + "; ".join(parts) if parts else ""


def _latency_gap(runs: Sequence[RunFigures]) -> str:
    lag = over(runs, lambda r: r.loop_lag_p99_ms)
    ast = over(runs, lambda r: r.asterisk_cpu_pct)
    return f"loop lag p99 {spread_text(lag)} ms, Asterisk CPU {spread_text(ast, 0)} %"


def _overload_where(runs: Sequence[RunFigures]) -> str:
    refused = over(runs, lambda r: float(r.refused))
    admitted = over(runs, lambda r: float(r.calls - r.refused))
    rate = runs[0].rate
    return (
        f"{rate:g}/s offered: admitted {spread_text(admitted, 0)}, "
        f"refused busy {spread_text(refused, 0)}"
    )

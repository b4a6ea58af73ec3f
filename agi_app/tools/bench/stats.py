"""Medians with their spread over the repeated runs of the bench.

Every rate runs native and app interleaved several times (``rep`` 0, 1, 2...);
one run decides nothing on a shared machine, so every figure the page gives is
the median of the repeats with the smallest and largest value beside it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from agi_app.tools.bench.figures import RunFigures

GROUP_NAMES = {"asterisk": "Asterisk", "app": "app", "postgres": "PostgreSQL", "sipp": "SIPp"}


@dataclass(frozen=True, slots=True)
class Spread:
    """Median, minimum and maximum of one figure over ``n`` runs."""

    median: float
    lo: float
    hi: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread | None:
        """None when no run gave the figure."""
        got = [float(v) for v in values if v is not None]
        if not got:
            return None
        return cls(statistics.median(got), min(got), max(got), len(got))

    def text(self, digits: int = 2) -> str:
        """``1.75 (1.6-2.1)``; a single run is just its value."""
        m = _num(self.median, digits)
        if self.n == 1 or self.lo == self.hi:
            return m
        return f"{m} ({_num(self.lo, digits)}-{_num(self.hi, digits)})"

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "min": self.lo, "max": self.hi, "n": self.n}


def _num(value: float, digits: int) -> str:
    return f"{round(value, digits):g}"


def spread_text(s: Spread | None, digits: int = 2) -> str:
    return "-" if s is None else s.text(digits)


def runs_of(figs: Sequence[RunFigures], kind: str, rate: float) -> list[RunFigures]:
    return [f for f in figs if f.kind == kind and f.rate == rate]


def rates_of(figs: Sequence[RunFigures], kinds: Sequence[str] = ("native", "app")) -> list[float]:
    return sorted({f.rate for f in figs if f.kind in kinds})


def reps_of(figs: Sequence[RunFigures]) -> list[int]:
    return sorted({f.rep for f in figs})


def over(runs: Sequence[RunFigures], figure: Callable[[RunFigures], float | None]) -> Spread | None:
    """The spread of ``figure`` over ``runs``."""
    return Spread.of(figure(r) for r in runs)


def total_cpu(run: RunFigures) -> float | None:
    """CPU ms per call of the groups together (None before any was measured); an
    app idling beside a native run (``app_idle``) is not part of a native call."""
    cpu = [v for k, v in run.cpu_ms_per_call.items() if k in GROUP_NAMES]
    return round(sum(cpu), 3) if cpu else None


def group_cpu(name: str) -> Callable[[RunFigures], float | None]:
    return lambda run: run.cpu_ms_per_call.get(name)


def pg_cpu(who: str) -> Callable[[RunFigures], float | None]:
    """PostgreSQL's CPU ms per call spent by ``who`` (bench.pgroles.BUCKETS): 0 in a
    run that measured the split without it, None in one that did not measure it."""
    return lambda run: run.pg_ms_per_call.get(who, 0.0) if run.pg_ms_per_call else None


def per_calib(figure: Callable[[RunFigures], float | None]) -> Callable[[RunFigures], float | None]:
    """``figure`` divided by the run's calibration, x 1000: CPU per call in
    thousandths of the calibration job, so a slow phase of the machine (a longer
    calibration) does not read as a costlier call. The job's CPU time where it
    was measured (the wall time also counts waiting for a CPU), else its wall time."""

    def divided(run: RunFigures) -> float | None:
        value, calib = figure(run), run.calib_cpu_ms or run.calib_ms
        if value is None or not calib:
            return None
        return round(1000 * value / calib, 3)

    return divided


def max_clean(figs: Sequence[RunFigures], kind: str, rep: int) -> float | None:
    """The highest rate at which repeat ``rep`` of ``kind`` ran clean."""
    clean = [f.rate for f in figs if f.kind == kind and f.rep == rep and f.clean]
    return max(clean) if clean else None


def max_clean_spread(figs: Sequence[RunFigures], kind: str) -> Spread | None:
    return Spread.of(max_clean(figs, kind, rep) for rep in reps_of(figs))


def ratios_by_rep(figs: Sequence[RunFigures]) -> list[float]:
    """Per repeat: app max clean rate / native max clean rate (0 when the app ran
    clean at no rate); repeats with no clean native run give nothing."""
    out = []
    for rep in reps_of(figs):
        native, app = max_clean(figs, "native", rep), max_clean(figs, "app", rep)
        if native:
            out.append(round((app or 0.0) / native, 3))
    return out


def paired(figs: Sequence[RunFigures], rate: float) -> list[tuple[RunFigures, RunFigures]]:
    """(native, app) runs of the same repeat at ``rate``: the pairs that saw the
    same minute of the machine."""
    out = []
    for rep in reps_of(figs):
        native = [f for f in runs_of(figs, "native", rate) if f.rep == rep]
        app = [f for f in runs_of(figs, "app", rate) if f.rep == rep]
        if native and app:
            out.append((native[0], app[0]))
    return out


def nearest_rate(figs: Sequence[RunFigures], wanted: float) -> float | None:
    """The measured rate closest to ``wanted`` (the lower one on a tie)."""
    rates = rates_of(figs)
    return min(rates, key=lambda r: (abs(r - wanted), r)) if rates else None


def completion_pct(run: RunFigures) -> float | None:
    """Of the calls admitted (not refused busy), the per cent that completed."""
    admitted = run.calls - run.refused
    return round(100 * run.ok / admitted, 2) if admitted > 0 else None

"""The figures of one bench run (one mode, one rate, one repeat)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunFigures:
    kind: str  # native, app, app-overload, or "app, <lever> off"
    rate: float
    calls: int
    ok: int
    failed: int
    retrans: int
    invite_p50_ms: float | None
    invite_p99_ms: float | None
    dtmf_bye_p50_ms: float | None
    dtmf_bye_p99_ms: float | None
    asterisk_cpu_pct: float
    app_cpu_ms_per_call: float | None = None
    app_rss_mb: float | None = None
    lookup_p99_ms: float | None = None
    dtmf_play_p99_ms: float | None = None
    loop_lag_p99_ms: float | None = None
    refused: int = 0
    # The calibration job just before the run (sipp.calibrate): its wall time, and
    # its CPU time, which others' load on the machine does not stretch by queueing.
    calib_ms: float | None = None
    rep: int = 0  # which repeat of the interleaved series
    # CPU ms per call of each process group (asterisk, app, postgres, sipp),
    # from /proc before and after the run (agi_app/tools/bench/procstat.py).
    cpu_ms_per_call: dict[str, float] = field(default_factory=dict)
    load_avg: float | None = None  # 1-minute load average just before the run
    # PostgreSQL's CPU ms per call by who spent it (bench.pgroles.buckets): the
    # app's lookup pool, its main pool, PostgreSQL's own processes; app runs only.
    pg_ms_per_call: dict[str, float] = field(default_factory=dict)
    calib_cpu_ms: float | None = None

    @property
    def clean(self) -> bool:
        return self.failed == 0 and self.retrans == 0 and self.ok == self.calls

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunFigures:
        """A run back from a history line (fields it does not know are dropped)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

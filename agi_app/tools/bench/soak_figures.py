"""The soak's figures: one sample per wave, the parsers that make it, the goals.

A sample is taken once a wave's calls have ended and the stack is quiet again
(no call in the app, no Asterisk channel, or the settle time spent), so the
figures that follow the load (file descriptors, tasks, connections, channels)
can be compared with the same moment of the other waves: "flat" means back
to the baseline between waves. The baseline is the sample that ends the
warm-up. Loop lag p99 and failed calls are over the wave itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RSS_GROWTH_MB = 5.0  # the goal: RSS growth after warm-up under this
# Slack of "flat": what may move at a quiet moment without a leak behind it
# (an idle connection the pool keeps, the admin request being served).
FD_SLACK = 4
TASK_SLACK = 3
PG_SLACK = 2
LAG_FACTOR, LAG_SLACK_MS = 2.0, 10.0  # a wave's lag p99 <= 2 x the warm-up's + 10 ms

_CHANNELS = re.compile(r"^(\d+) active channels?", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Sample:
    """One row of the soak: after wave ``wave`` (0: before any call)."""

    wave: int
    minute: float  # since the start of the soak
    calls: int  # placed in the wave
    failed: int  # of those, not completed as the script expects (SIPp's counts)
    rss_mb: float | None
    fds: int | None
    tasks: int | None
    pg_conns: int | None
    channels: int | None
    lag_p99_ms: float | None  # over the wave
    settle_s: float  # from the wave's last call to quiet


@dataclass(frozen=True, slots=True)
class Goal:
    name: str
    limit: str
    value: str
    met: bool

    def as_dict(self) -> dict[str, Any]:
        return {"goal": self.name, "limit": self.limit, "value": self.value, "met": self.met}


def parse_channels(cli_output: str) -> int | None:
    """Asterisk's ``core show channels count``: the number of active channels."""
    m = _CHANNELS.search(cli_output)
    return int(m.group(1)) if m else None


def stats_tasks(stats: Mapping[str, Any]) -> int | None:
    value = stats.get("asyncio_tasks")
    return int(value) if isinstance(value, int | float) else None


def stats_lag_p99(stats: Mapping[str, Any]) -> float | None:
    """The loop-lag p99 (ms) of the app's ``/admin/stats`` since its last reset."""
    lag = stats.get("timings", {}).get("loop_lag_ms", {})
    value = lag.get("p99") if isinstance(lag, dict) else None
    return None if value is None else round(float(value), 2)


def warmup_waves(warmup_min: float, every_min: float) -> int:
    """How many waves the warm-up takes (at least one: the first wave meets cold
    caches and pools whatever the setting)."""
    return max(1, math.ceil(warmup_min / every_min - 1e-9))


def baseline(samples: Sequence[Sample], warmup: int) -> Sample | None:
    """The sample that ends the warm-up (after wave ``warmup``)."""
    return next((s for s in samples if s.wave == warmup), None)


def _flat(
    name: str, base: Sample, after: Sequence[Sample], field: str, slack: float, unit: str = ""
) -> Goal:
    b = getattr(base, field)
    values = [getattr(s, field) for s in after]
    if b is None or not values or any(v is None for v in values):
        return Goal(name, f"<= baseline + {slack:g}", "not measured", False)
    worst = max(values)
    return Goal(
        name,
        f"<= baseline + {slack:g}{unit}",
        f"baseline {b:g}, highest after {worst:g}{unit}",
        worst - b <= slack,
    )


def evaluate(samples: Sequence[Sample], warmup: int) -> list[Goal]:
    """The soak's goals: RSS growth after warm-up < 5 MB; file descriptors, asyncio
    tasks, PostgreSQL connections and Asterisk channels back to the baseline after
    every later wave; loop lag p99 not climbing; zero failed calls."""
    failed = sum(s.failed for s in samples)
    calls = sum(s.calls for s in samples)
    goals: list[Goal] = []
    base = baseline(samples, warmup)
    after = [s for s in samples if base is not None and s.wave > base.wave]
    if base is None or not after:
        goals.append(Goal("after warm-up", "a wave after it", "none ran", False))
    else:
        last = after[-1]
        if base.rss_mb is None or last.rss_mb is None:
            goals.append(Goal("RSS growth after warm-up", "< 5 MB", "not measured", False))
        else:
            growth = round(last.rss_mb - base.rss_mb, 1)
            goals.append(
                Goal(
                    "RSS growth after warm-up",
                    f"< {RSS_GROWTH_MB:g} MB",
                    f"{growth:+g} MB ({base.rss_mb:g} -> {last.rss_mb:g})",
                    growth < RSS_GROWTH_MB,
                )
            )
        goals += [
            _flat("open file descriptors", base, after, "fds", FD_SLACK),
            _flat("asyncio tasks", base, after, "tasks", TASK_SLACK),
            _flat("PostgreSQL connections", base, after, "pg_conns", PG_SLACK),
            _flat("Asterisk channels", base, after, "channels", 0),
            _lag(base, after),
        ]
    goals.append(Goal("failed calls", "0", f"{failed} of {calls}", failed == 0 and calls > 0))
    return goals


def _lag(base: Sample, after: Sequence[Sample]) -> Goal:
    limit = f"<= {LAG_FACTOR:g} x warm-up + {LAG_SLACK_MS:g} ms"
    values = [s.lag_p99_ms for s in after if s.lag_p99_ms is not None]
    if base.lag_p99_ms is None or not values:
        return Goal("loop lag p99", limit, "not measured", False)
    worst = max(values)
    return Goal(
        "loop lag p99",
        limit,
        f"warm-up {base.lag_p99_ms:g} ms, highest after {worst:g} ms",
        worst <= LAG_FACTOR * base.lag_p99_ms + LAG_SLACK_MS,
    )


def passed(goals: Sequence[Goal]) -> bool:
    return bool(goals) and all(g.met for g in goals)

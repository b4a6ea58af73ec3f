"""Reading what the profilers of `agi-app bench --profile` print (pure functions).

- ``core show taskprocessors``: a name and then counts per line; the processed
  count is the first number. Per-object taskprocessors (one per PJSIP
  distributor, per Stasis subscription...) are summed by family: the name
  without its ``-0000001d`` suffix.
- py-spy's ``raw`` output: one collapsed stack per line (``a;b;c 12``).
- ``perf report --stdio``: lines ``  12.34%  dso  [.] symbol``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

_SUFFIX = re.compile(r"-[0-9a-f]{8}$")
_LINE_NO = re.compile(r":\d+\)$")
_PERF_ROW = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(.*\S)\s*$")


def parse_taskprocessors(text: str) -> dict[str, int]:
    """Taskprocessor name -> messages processed so far."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
            out[fields[0]] = int(fields[1])
    return out


def family(name: str) -> str:
    """``pjsip/distributor-0000001d`` -> ``pjsip/distributor``."""
    return _SUFFIX.sub("", name)


@dataclass(frozen=True, slots=True)
class FamilyCount:
    family: str
    instances: int
    processed: int


def taskprocessor_delta(before: Mapping[str, int], after: Mapping[str, int]) -> list[FamilyCount]:
    """Messages processed between the two reads, per family, most first. A
    taskprocessor made after the first read counts from zero; one that was
    destroyed before the second read (a channel's) is not seen at all."""
    processed: Counter[str] = Counter()
    instances: Counter[str] = Counter()
    for name, count in after.items():
        delta = count - before.get(name, 0)
        if delta > 0:
            processed[family(name)] += delta
            instances[family(name)] += 1
    return [FamilyCount(f, instances[f], n) for f, n in processed.most_common()]


def _frame(frame: str) -> str:
    """``serve (agi_app/service/call.py:57)`` -> ``serve (agi_app/service/call.py)``."""
    return _LINE_NO.sub(")", frame.strip())


@dataclass(frozen=True, slots=True)
class StackTop:
    samples: int
    own: list[tuple[str, int]]  # the frame running when sampled
    total: list[tuple[str, int]]  # the frame anywhere on the stack


def collapsed_top(text: str, n: int = 25) -> StackTop:
    """The ``n`` functions with the most samples of their own, and on the stack."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        k = int(count)
        frames = [_frame(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        samples += k
        own[frames[-1]] += k
        for frame in set(frames):
            total[frame] += k
    return StackTop(samples, own.most_common(n), total.most_common(n))


def perf_rows(text: str, n: int = 30) -> list[tuple[float, str]]:
    """(per cent, what) from ``perf report --stdio`` without call graphs."""
    rows = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        m = _PERF_ROW.match(line)
        if m:
            rows.append((float(m.group(1)), " ".join(m.group(2).split())))
    return rows[:n]


def hardware_events(perf_stat_output: str, returncode: int) -> bool:
    """Whether ``perf stat -e instructions true`` counted instructions (a VM
    without a virtual PMU prints ``<not supported>``)."""
    return (
        returncode == 0
        and "instructions" in perf_stat_output
        and ("<not supported>" not in perf_stat_output and "<not counted>" not in perf_stat_output)
    )


def per_call(delta: Mapping[str, int | float], calls: int) -> list[tuple[str, float]]:
    """Each count divided by ``calls``, largest first."""
    n = max(1, calls)
    return sorted(
        ((k, round(v / n, 2)) for k, v in delta.items() if v), key=lambda kv: (-kv[1], kv[0])
    )


def counter_delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """``after - before`` for every key of ``after``."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}

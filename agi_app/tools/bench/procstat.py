"""CPU time per process group, from ``/proc/PID/stat``: what one load step cost.

A group is a root process and all its descendants. Its CPU time is the sum,
over every process of the tree alive at the moment of reading, of utime +
stime (all its threads, live and ended) + cutime + cstime (its children that
ended and were reaped). Read before and after a step, the difference counts a
process that started and ended within the step (in its parent's cutime) as
well as one that is still running, and nothing twice: a live process's
cutime only holds children that are gone.

The groups of the bench (``groups``):

- ``asterisk``: the Asterisk daemon (in a chroot, but its pid is the host's);
- ``app``: the ``agi-app run`` process and its children (the TTS worker);
- ``postgres``: the postmaster of this checkout's cluster and its backends;
- ``sipp``: the bench's own children that ended (SIPp runs as one and is
  reaped when it finishes): the cutime + cstime of the bench process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
GROUPS = ("asterisk", "app", "postgres", "sipp")


@dataclass(frozen=True, slots=True)
class ProcTimes:
    """The fields of one ``/proc/PID/stat`` line the bench needs (clock ticks)."""

    pid: int
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def own(self) -> int:
        return self.utime + self.stime

    @property
    def reaped(self) -> int:
        return self.cutime + self.cstime


def parse_stat(text: str) -> ProcTimes:
    """One ``/proc/PID/stat`` line. The command name (field 2) may hold spaces and
    parentheses, so the fields are counted from the last ``)``."""
    head, _, tail = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = tail.split()  # fields[0] is the state (field 3 of the line)
    return ProcTimes(
        pid=pid,
        ppid=int(fields[1]),
        utime=int(fields[11]),
        stime=int(fields[12]),
        cutime=int(fields[13]),
        cstime=int(fields[14]),
    )


def read_stat(pid: int, proc: Path = Path("/proc")) -> ProcTimes | None:
    """The stat of ``pid``, or None when it is gone."""
    try:
        return parse_stat((proc / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def process_table(proc: Path = Path("/proc")) -> dict[int, ProcTimes]:
    """Every process on the machine (threads are summed into their process)."""
    table: dict[int, ProcTimes] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name), proc)
            if stat is not None:
                table[stat.pid] = stat
    return table


def tree_ticks(table: Mapping[int, ProcTimes], root: int) -> int:
    """CPU ticks of ``root`` and all its descendants (see the module docstring)."""
    children: dict[int, list[int]] = {}
    for stat in table.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid].own + table[pid].reaped
        todo.extend(children.get(pid, ()))
    return total


def postmaster_pid(data_dir: Path) -> int | None:
    """The postmaster's pid: the first line of ``postmaster.pid`` in the data folder."""
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def groups(
    roots: Mapping[str, int | None], table: Mapping[int, ProcTimes], me: int | None = None
) -> dict[str, float]:
    """CPU seconds per group: each root's tree (a group whose root is unknown or
    gone is left out), and ``sipp``: the reaped children of process ``me`` (this one)."""
    out = {
        name: tree_ticks(table, pid) / TICK
        for name, pid in roots.items()
        if pid is not None and pid in table
    }
    bench = table.get(os.getpid() if me is None else me)
    out["sipp"] = bench.reaped / TICK if bench else 0.0
    return out


def per_call_ms(
    before: Mapping[str, float], after: Mapping[str, float], calls: int
) -> dict[str, float]:
    """Milliseconds of CPU per call in each group measured both times."""
    n = max(1, calls)
    return {
        name: round(1000 * (after[name] - before[name]) / n, 3)
        for name in GROUPS
        if name in before and name in after
    }


def total_ms(per_call: Iterable[float]) -> float:
    return round(sum(per_call), 3)


def parse_rss_kb(status: str) -> int | None:
    """Resident set size in kB from a ``/proc/PID/status`` text (its ``VmRSS:`` line)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def rss_kb(pid: int, proc: Path = Path("/proc")) -> int | None:
    """The resident set size of ``pid`` in kB (None when it is gone)."""
    try:
        return parse_rss_kb((proc / str(pid) / "status").read_text())
    except OSError:
        return None


def open_fds(pid: int, proc: Path = Path("/proc")) -> int | None:
    """Open file descriptors of ``pid``: the entries of ``/proc/PID/fd`` (None when gone)."""
    try:
        return sum(1 for _ in (proc / str(pid) / "fd").iterdir())
    except OSError:
        return None

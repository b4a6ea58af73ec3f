"""Running SIPp: callers to completion, answerers (agents, phones) in the background.

Outcomes are read from SIPp's own files: the final statistics line
(successful/failed calls, retransmissions) and the per-call response-time
trace (INVITE->200 as rtd 1, last digit->BYE as rtd 2).
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import signal
from dataclasses import dataclass, field
from pathlib import Path

SIPP = "sipp"
_ports = itertools.count(0)


def next_ports(base: int = 15000) -> tuple[int, int]:
    """A fresh (sip, media) port pair for one SIPp instance in this process."""
    n = next(_ports) % 500
    return base + n * 10, base + 6000 + n * 10


@dataclass
class SippResult:
    rc: int
    successful: int = 0
    failed: int = 0
    retransmissions: int = 0
    rtd: dict[str, list[float]] = field(default_factory=dict)  # rtd name -> ms values
    output: str = ""

    def summary(self) -> str:
        return (
            f"rc={self.rc} ok={self.successful} failed={self.failed} retrans={self.retransmissions}"
        )


def caller_file(workdir: Path, callers: list[str]) -> Path:
    """SIPp injection file: one caller number per call, in order."""
    path = workdir / "callers.csv"
    path.write_text("SEQUENTIAL\n" + "".join(f"{c};\n" for c in callers))
    return path


async def run_callers(
    scenario: Path,
    *,
    service: str,
    callers: list[str],
    calls: int,
    rate: float = 10,
    limit: int = 50,
    timeout_s: float = 120,
    target: str = "127.0.0.1:5060",
    call_timeout_s: int = 60,
) -> SippResult:
    """Place ``calls`` calls with a UAC scenario; wait for SIPp to finish."""
    workdir = scenario.parent
    sip_port, media_port = next_ports()
    stat = workdir / "stats.csv"
    rtt = workdir / "rtt.csv"
    for f in (stat, rtt):
        f.unlink(missing_ok=True)
    args = [
        SIPP,
        target,
        "-sf",
        str(scenario),
        "-s",
        service,
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(limit),
        "-i",
        "127.0.0.1",
        "-p",
        str(sip_port),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(media_port),
        "-inf",
        str(caller_file(workdir, callers)),
        "-nostdin",
        "-timeout",
        f"{int(timeout_s)}s",
        "-timeout_error",
        "-recv_timeout",
        str(call_timeout_s * 1000),
        "-trace_stat",
        "-stf",
        str(stat),
        "-fd",
        "1",
        "-trace_rtt",
        "-rtt_freq",
        "1",
        "-trace_err",
    ]
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(timeout_s + 15):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
    result = SippResult(
        rc=proc.returncode if proc.returncode is not None else -1,
        output=out.decode(errors="replace")[-4000:],
    )
    _read_stats(stat, result)
    for path in workdir.glob("*_rtt.csv"):
        _read_rtt(path, result)
        path.unlink()
    return result


def _read_stats(path: Path, result: SippResult) -> None:
    files = sorted(path.parent.glob("*.csv"))
    stat_file = path if path.exists() else next((f for f in files if "stat" in f.name), None)
    if stat_file is None or not stat_file.exists():
        return
    try:
        with stat_file.open(errors="replace") as fh:
            rows = list(csv.reader(fh, delimiter=";"))
    except csv.Error:  # a NUL or a torn write: no figures rather than a crash
        return
    if len(rows) < 2:
        return
    head, last = rows[0], rows[-1]
    col = {name: i for i, name in enumerate(head)}

    def val(name: str) -> int:
        i = col.get(name)
        return int(last[i]) if i is not None and i < len(last) and last[i].isdigit() else 0

    result.successful = val("SuccessfulCall(C)")
    result.failed = val("FailedCall(C)")
    result.retransmissions = val("Retransmissions(C)")


def _read_rtt(path: Path, result: SippResult) -> None:
    """SIPp's -trace_rtt file: ``Date_ms;response_time_ms;rtd_no`` per sample."""
    try:
        with path.open(errors="replace") as fh:
            for row in csv.reader(fh, delimiter=";"):
                if len(row) >= 3 and row[1].replace(".", "", 1).isdigit():
                    result.rtd.setdefault(row[2].strip(), []).append(float(row[1]))
    except csv.Error:
        return


class Answerer:
    """A SIPp UAS on its own port (an agent, or a customer's phone)."""

    def __init__(self, scenario: Path, port: int) -> None:
        self.scenario = scenario
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        media = 30000 + (self.port % 1000) * 4
        self.proc = await asyncio.create_subprocess_exec(
            SIPP,
            "-sf",
            str(self.scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(media),
            "-nostdin",
            "-trace_stat",
            "-fd",
            "1",
            "-stf",
            str(self.scenario.with_suffix(f".{self.port}.stat.csv")),
            cwd=self.scenario.parent,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    def stats(self) -> SippResult:
        result = SippResult(rc=0)
        _read_stats(self.scenario.with_suffix(f".{self.port}.stat.csv"), result)
        return result

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGUSR1)  # SIPp: dump stats and quit
            try:
                async with asyncio.timeout(5):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

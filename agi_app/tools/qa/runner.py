"""Running SIPp: callers to completion, answerers (agents, phones) in the background.

Outcomes are read from SIPp's own files: the final statistics line
(successful/failed calls, retransmissions), the per-call response-time
trace (INVITE->200 as rtd 1, last digit->BYE as rtd 2) and the scenario's log
lines (a caller's says when the hotline hung up before every key was sent).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

from agi_app.settings import get_settings
from agi_app.tools.qa.ports import PortError, PortLease, is_bind_failure, lease, udp_bound

SIPP = "sipp"
BIND_RETRIES = 5  # fresh leases when SIPp still loses a port to another process


@dataclass
class SippResult:
    rc: int
    successful: int = 0
    failed: int = 0
    retransmissions: int = 0
    rtd: dict[str, list[float]] = field(default_factory=dict)  # rtd name -> ms values
    output: str = ""
    log: str = ""  # the lines the scenario's <log> actions wrote
    errors: str = ""  # SIPp's -trace_err log: why a call failed (``sipp_errors``)

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
    target: str | None = None,
    call_timeout_s: int = 60,
    sip_port: int | None = None,
    media_port: int | None = None,
    local_ip: str = "127.0.0.1",
) -> SippResult:
    """Place ``calls`` calls with a UAC scenario; wait for SIPp to finish.
    ``local_ip``: the address calls come from (another loopback address, say,
    to be another source).

    Ports are leased (``agi_app.tools.qa.ports``) unless given; when SIPp cannot bind
    a leased port (taken in the meantime) it is run again on fresh ones.
    """
    if target is None:
        s = get_settings()  # the hotline's address: Asterisk, or Kamailio on a cluster
        target = f"{s.bind_address}:{s.sip_port}"
    explicit = sip_port is not None or media_port is not None
    for _attempt in range(1 if explicit else BIND_RETRIES):
        ports = lease(sip_port, media_port)
        try:
            result = await _run_uac(
                scenario,
                ports,
                service,
                callers,
                calls,
                rate,
                limit,
                timeout_s,
                target,
                call_timeout_s,
                local_ip,
            )
        finally:
            ports.release()
        if not is_bind_failure(result.rc, result.output):
            break
    return result


async def _run_uac(
    scenario: Path,
    ports: PortLease,
    service: str,
    callers: list[str],
    calls: int,
    rate: float,
    limit: int,
    timeout_s: float,
    target: str,
    call_timeout_s: int,
    local_ip: str = "127.0.0.1",
) -> SippResult:
    workdir = scenario.parent
    sip_port, media_port = ports.sip, ports.media
    stat = workdir / "stats.csv"
    rtt = workdir / "rtt.csv"
    log = workdir / "calls.log"
    for f in (stat, rtt, log, *workdir.glob("*_errors.log")):
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
        local_ip,
        "-p",
        str(sip_port),
        "-mi",
        local_ip,
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
        "-trace_logs",
        "-log_file",
        str(log),
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
    finally:
        if proc.returncode is None:  # cancelled (Ctrl-C): never leave a SIPp behind
            proc.kill()
            await proc.wait()
    result = SippResult(
        rc=proc.returncode if proc.returncode is not None else -1,
        output=out.decode(errors="replace")[-4000:],
    )
    _read_stats(stat, result)
    result.log = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    for path in workdir.glob("*_errors.log"):  # <scenario>_<pid>_errors.log
        result.errors += path.read_text(errors="replace")[:8000]  # the first events
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


@dataclass(frozen=True)
class Answered:
    """One call an answerer took (or refused), from its SIPp log."""

    at: dt.datetime
    to: str  # the user part of the request URI (the number dialled)
    caller: str  # the user part of the From header
    accepted: bool


_LOG_LINE = re.compile(r"^(answered|rejected) to=(\S*) from=(\S*) at=([\d.]+) ([\d.]+)")


class Answerer:
    """A SIPp UAS on its own SIP port (an agent, or a customer's phone).

    Its media port is leased unless given. ``start`` returns once SIPp holds
    its SIP port (or raises with SIPp's own words); ``answered`` reads the calls
    it took from the log lines the scenario writes (``build_answerer``).
    """

    def __init__(self, scenario: Path, port: int, media_port: int | None = None) -> None:
        self.scenario = scenario
        self.port = port
        self.media_port = media_port
        self.proc: asyncio.subprocess.Process | None = None
        self._ports: PortLease | None = None
        self.log_file = scenario.with_suffix(f".{port}.log")
        self.err_file = scenario.with_suffix(f".{port}.err")

    async def start(self, ready_timeout: float = 5) -> None:
        for _attempt in range(1 if self.media_port is not None else BIND_RETRIES):
            self._ports = lease(self.port, self.media_port)
            await self._spawn(self._ports)
            rc, err = await self._wait_bound(ready_timeout)
            if rc is None:
                return
            self._ports.release()
            if not is_bind_failure(rc, err):
                break
        raise PortError(f"SIPp answerer on port {self.port} did not start (rc={rc}): {err}")

    async def _spawn(self, ports: PortLease) -> None:
        self.log_file.unlink(missing_ok=True)
        with self.err_file.open("wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                SIPP,
                "-sf",
                str(self.scenario),
                "-i",
                "127.0.0.1",
                "-p",
                str(ports.sip),
                "-mi",
                "127.0.0.1",
                "-mp",
                str(ports.media),
                "-nostdin",
                "-trace_stat",
                "-fd",
                "1",
                "-stf",
                str(self.scenario.with_suffix(f".{self.port}.stat.csv")),
                "-trace_logs",
                "-log_file",
                str(self.log_file),
                cwd=self.scenario.parent,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
            )

    async def _wait_bound(self, timeout: float) -> tuple[int | None, str]:
        """(None, "") once SIPp holds its SIP port; its exit code and error if it exits."""
        assert self.proc is not None
        try:
            async with asyncio.timeout(timeout):
                while self.proc.returncode is None:
                    if udp_bound(self.port):
                        break
                    await asyncio.sleep(0.05)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            return -1, f"port {self.port} still unbound after {timeout} s"
        if self.proc.returncode is None:
            return None, ""
        rc = await self.proc.wait()
        return rc, self.err_file.read_text(errors="replace")[-500:].strip()

    def answered(self) -> list[Answered]:
        """Every call this answerer took or refused so far, in order."""
        if not self.log_file.exists():
            return []
        out = []
        for line in self.log_file.read_text(errors="replace").splitlines():
            m = _LOG_LINE.match(line)
            if m:
                when = float(m.group(4).split(".")[0]) + float(m.group(5)) / 1e6
                out.append(
                    Answered(
                        dt.datetime.fromtimestamp(when, dt.UTC),
                        m.group(2),
                        m.group(3),
                        m.group(1) == "answered",
                    )
                )
        return out

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
        if self._ports is not None:
            self._ports.release()
            self._ports = None

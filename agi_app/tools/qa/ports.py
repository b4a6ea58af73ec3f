"""Ports for SIPp instances that never collide, within a process or across many.

Every SIPp needs a SIP port and a media port (it binds ``media`` for audio and
``media + 2`` for video). A port is leased in two steps: an exclusive lock on
a file named after the port (``flock``, held until the lease is released or
the process dies, so two ``qa call`` processes never pick the same one), then
bind-and-release on 127.0.0.1 (the OS confirms nobody else, e.g. another
engineer's SIPp or Asterisk, holds it right now). SIPp may still lose the
port in the moment between the check and its own bind: the runner then sees
its bind error and takes another lease (``is_bind_failure``).

The ranges stay clear of the stack's fixed ports (5060, 5071-5074, 5090...),
Asterisk's RTP range (20000-30000) and the kernel's ephemeral ports
(32768-60999), where Asterisk's pjsip opens wildcard sockets.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SIP_PORTS = range(10000, 20000)
MEDIA_PORTS = range(30000, 32760, 4)  # each block: media, media+2 (and room for RTCP)
LOCK_DIR = Path(tempfile.gettempdir()) / "agi-app-sipp-ports"
SIPP_BIND_FAILED = 254  # SIPp's exit code when it cannot bind a socket


class PortError(RuntimeError):
    """No free port, or an explicitly requested port is taken."""


@dataclass
class PortLease:
    """A SIP and a media port held for one SIPp instance; release when it ends."""

    sip: int
    media: int
    _fds: list[int] = field(default_factory=list, repr=False)

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)  # closing the file drops its flock
        self._fds.clear()


def udp_free(port: int, host: str = "127.0.0.1") -> bool:
    """The OS lets us bind ``host:port`` (UDP) at this moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def udp_bound(port: int) -> bool:
    """Some socket is bound to UDP ``port`` (read from /proc/net/udp; binds nothing)."""
    want = f":{port:04X}"
    with open("/proc/net/udp") as fh:
        next(fh)  # header
        return any(line.split()[1].endswith(want) for line in fh if line.strip())


def _lock(port: int) -> int | None:
    """An fd holding the exclusive lock of ``port``, or None if another holder has it."""
    LOCK_DIR.mkdir(mode=0o1777, parents=True, exist_ok=True)
    fd = os.open(LOCK_DIR / f"{port}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _take(port: int, span: tuple[int, ...]) -> int | None:
    """Lock ``port`` and check every port of ``span`` (offsets) free; the lock fd."""
    fd = _lock(port)
    if fd is None:
        return None
    if all(udp_free(port + off) for off in span):
        return fd
    os.close(fd)
    return None


def _pick(candidates: range, span: tuple[int, ...], tries: int = 200) -> tuple[int, int]:
    """A random free port of ``candidates`` and its lock fd."""
    rng = random.SystemRandom()
    for _ in range(tries):
        port = rng.choice(candidates)
        fd = _take(port, span)
        if fd is not None:
            return port, fd
    raise PortError(f"no free port in {candidates.start}-{candidates.stop - 1} after {tries} tries")


def _claim(port: int, span: tuple[int, ...], what: str) -> tuple[int, int]:
    fd = _take(port, span)
    if fd is None:
        ports = ", ".join(str(port + off) for off in span)
        raise PortError(f"{what} port {port} is in use (needs UDP {ports} on 127.0.0.1 free)")
    return port, fd


def lease(sip: int | None = None, media: int | None = None) -> PortLease:
    """Lease a (sip, media) pair; given ports are checked, not replaced."""
    sip_port, sip_fd = _pick(SIP_PORTS, (0,)) if sip is None else _claim(sip, (0,), "SIP")
    try:
        media_port, media_fd = (
            _pick(MEDIA_PORTS, (0, 2)) if media is None else _claim(media, (0, 2), "media")
        )
    except PortError:
        os.close(sip_fd)
        raise
    return PortLease(sip_port, media_port, [sip_fd, media_fd])


def is_bind_failure(rc: int, output: str) -> bool:
    """SIPp gave up because a port was taken (``Unable to bind ... errno = 98``)."""
    return rc == SIPP_BIND_FAILED and "Unable to bind" in output

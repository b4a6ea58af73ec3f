"""SIP packets on the loopback interface, with the kernel's timestamps.

SIPp times a response in whole ticks of its 4 ms main loop (its rtd 1 reads
0, 4, 8... ms), too coarse for what a proxy adds (a fraction of a
millisecond). So the cluster bench captures the SIP packets themselves: a
packet socket on ``lo`` (root only) with a classic BPF filter that passes
only UDP to or from the given ports, so the RTP of the calls never reaches
Python, and ``SO_TIMESTAMPNS`` for the time the kernel saw each packet.

On ``lo`` a packet socket sees each packet twice, as sent and as received;
like libpcap, the sent copy is skipped.

``udp_filter``, ``udp_payload`` and ``parse_sip`` are pure; ``Capture`` is the
socket and its reader thread.
"""

from __future__ import annotations

import ctypes
import re
import socket
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass

ETH_P_IP = 0x0800
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35  # also the type of its control message
PACKET_OUTGOING = 4
ETH_HEADER = 14
RCVBUF = 8 << 20  # packets wait here while the reader thread is not scheduled

# Classic BPF opcodes (linux/filter.h).
_LDH_ABS, _LDB_ABS, _LDH_IND, _LDXB_MSH = 0x28, 0x30, 0x48, 0xB1
_JEQ_K, _JSET_K, _RET_K = 0x15, 0x45, 0x06

Insn = tuple[int, int, int, int]  # code, jt, jf, k


class CaptureError(RuntimeError):
    """The packet socket could not be opened (not root, no ``lo``)."""


def udp_filter(ports: Iterable[int]) -> list[Insn]:
    """A BPF program for Ethernet frames: IPv4, UDP, unfragmented (or the first
    fragment), source or destination port one of ``ports``; the whole frame kept."""
    wanted = sorted(set(ports))
    if not wanted:
        raise ValueError("no ports to capture")
    n = len(wanted)
    # 0-6 the header checks, 7 the source port, n tests, the destination port,
    # n tests, then reject (where the last test falls through), then accept.
    # Jump offsets count from the next instruction.
    reject = 9 + 2 * n
    accept = reject + 1
    prog: list[Insn] = []

    def to(target: int) -> int:
        return target - len(prog) - 1

    prog.append((_LDH_ABS, 0, 0, 12))  # EtherType
    prog.append((_JEQ_K, 0, to(reject), ETH_P_IP))
    prog.append((_LDB_ABS, 0, 0, ETH_HEADER + 9))  # IP protocol
    prog.append((_JEQ_K, 0, to(reject), socket.IPPROTO_UDP))
    prog.append((_LDH_ABS, 0, 0, ETH_HEADER + 6))  # flags + fragment offset
    prog.append((_JSET_K, to(reject), 0, 0x1FFF))
    prog.append((_LDXB_MSH, 0, 0, ETH_HEADER))  # X = IP header length
    prog.append((_LDH_IND, 0, 0, ETH_HEADER))  # source port
    for port in wanted:
        prog.append((_JEQ_K, to(accept), 0, port))
    prog.append((_LDH_IND, 0, 0, ETH_HEADER + 2))  # destination port
    for port in wanted:
        prog.append((_JEQ_K, to(accept), 0, port))
    prog.append((_RET_K, 0, 0, 0))
    prog.append((_RET_K, 0, 0, 0xFFFF))
    return prog


def udp_payload(frame: bytes) -> tuple[int, int, bytes] | None:
    """(source port, destination port, payload) of an Ethernet/IPv4/UDP frame."""
    if len(frame) < ETH_HEADER + 28 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[ETH_HEADER] & 0x0F) * 4
    if frame[ETH_HEADER + 9] != socket.IPPROTO_UDP or ihl < 20:
        return None
    udp = ETH_HEADER + ihl
    sport, dport, length = struct.unpack_from("!HHH", frame, udp)
    return sport, dport, frame[udp + 8 : udp + max(8, length)]


@dataclass(frozen=True, slots=True)
class SipPacket:
    """What the bench needs of one SIP message."""

    at: float  # seconds (CLOCK_REALTIME, from the kernel)
    src: int  # UDP ports
    dst: int
    method: str  # the request's method, or "" for a response
    status: int  # the response's code, or 0 for a request
    call_id: str
    cseq_method: str
    caller: str  # the user part of From


_HEADER = re.compile(rb"^(call-id|i|cseq|from|f)[ \t]*:[ \t]*(.*?)\r?$", re.I | re.M)
_USER = re.compile(r"sips?:([^@;>]+)@")


def parse_sip(at: float, src: int, dst: int, payload: bytes) -> SipPacket | None:
    """The packet as a ``SipPacket``, or None when it is not a SIP message."""
    line, _, _ = payload.partition(b"\n")
    first = line.decode(errors="replace").strip()
    status, method = 0, ""
    if first.startswith("SIP/2.0 "):
        code = first[8:11]
        if not code.isdigit():
            return None
        status = int(code)
    elif first.endswith(" SIP/2.0") and " " in first:
        method = first.split(" ", 1)[0]
    else:
        return None
    fields: dict[str, str] = {}
    for m in _HEADER.finditer(payload):
        name = m.group(1).decode().lower()
        name = {"i": "call-id", "f": "from"}.get(name, name)
        fields.setdefault(name, m.group(2).decode(errors="replace").strip())
    user = _USER.search(fields.get("from", ""))
    return SipPacket(
        at=at,
        src=src,
        dst=dst,
        method=method,
        status=status,
        call_id=fields.get("call-id", ""),
        cseq_method=fields.get("cseq", " ").split()[-1] if fields.get("cseq") else "",
        caller=user.group(1) if user else "",
    )


class Capture:
    """SIP packets to or from ``ports`` on ``lo`` while running (root only)."""

    def __init__(self, ports: Iterable[int]) -> None:
        self.ports = sorted(set(ports))
        self.packets: list[SipPacket] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        except (OSError, AttributeError) as exc:
            raise CaptureError(f"packet socket: {exc} (the cluster bench runs as root)") from exc
        try:
            _attach(sock, udp_filter(self.ports))
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.bind(("lo", ETH_P_IP))
            sock.settimeout(0.2)
        except OSError as exc:
            sock.close()
            raise CaptureError(f"packet socket on lo: {exc}") from exc
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._read, name="sip-capture", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._sock is not None
        control = socket.CMSG_SPACE(16)
        while not self._stop.is_set():
            try:
                frame, ancillary, _flags, addr = self._sock.recvmsg(65535, control)
            except TimeoutError:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            at = _timestamp(ancillary)
            got = udp_payload(frame)
            if got is not None and at is not None:
                packet = parse_sip(at, *got)
                if packet is not None:
                    self.packets.append(packet)

    def stop(self) -> list[SipPacket]:
        """Stop reading; every SIP packet seen so far, in order."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        return list(self.packets)

    def take(self) -> list[SipPacket]:
        """The packets seen so far, emptied (the capture keeps running)."""
        got, self.packets = self.packets, []
        return got


def _attach(sock: socket.socket, prog: list[Insn]) -> None:
    raw = b"".join(struct.pack("HBBI", *insn) for insn in prog)
    buf = ctypes.create_string_buffer(raw)
    fprog = struct.pack("HL", len(prog), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def _timestamp(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack_from("qq", data)
            return float(sec + nsec / 1e9)
    return None

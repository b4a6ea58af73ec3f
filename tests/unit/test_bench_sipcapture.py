"""The cluster bench's packet capture: the BPF filter (run by a small classic-BPF
interpreter here, and on the real loopback as root), frame and SIP parsing."""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest

from agi_app.tools.bench.sipcapture import Capture, Insn, parse_sip, udp_filter, udp_payload

INVITE = (
    b"INVITE sip:100@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:15000;branch=z9hG4bK-1\r\n"
    b"From: <sip:13800000001@127.0.0.1:15000>;tag=1\r\n"
    b"To: <sip:100@127.0.0.1:5060>\r\n"
    b"Call-ID: 1-4242@127.0.0.1\r\n"
    b"CSeq: 1 INVITE\r\n\r\n"
)
OK = (
    b"SIP/2.0 200 OK\r\ni: 1-4242@127.0.0.1\r\n"
    b"f: <sip:13800000001@h>;tag=1\r\nCSeq: 1 INVITE\r\n\r\n"
)


def frame(sport: int, dport: int, payload: bytes, proto: int = 17, frag: int = 0) -> bytes:
    """An Ethernet/IPv4/UDP frame as a packet socket on lo reads it."""
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + 8 + len(payload),
        1,
        frag,
        64,
        proto,
        0,
        socket.inet_aton("127.0.0.1"),
        socket.inet_aton("127.0.0.1"),
    )
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    return b"\x00" * 12 + b"\x08\x00" + ip + udp + payload


def run_bpf(prog: list[Insn], pkt: bytes) -> int:
    """The classic BPF instructions udp_filter uses, interpreted."""
    a = x = pc = 0
    while True:
        code, jt, jf, k = prog[pc]
        pc += 1
        if code == 0x28:
            a = struct.unpack_from("!H", pkt, k)[0]
        elif code == 0x30:
            a = pkt[k]
        elif code == 0x48:
            a = struct.unpack_from("!H", pkt, x + k)[0]
        elif code == 0xB1:
            x = (pkt[k] & 0x0F) * 4
        elif code == 0x15:
            pc += jt if a == k else jf
        elif code == 0x45:
            pc += jt if a & k else jf
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"opcode {code:#x}")


@pytest.mark.parametrize(
    ("sport", "dport", "proto", "frag", "kept"),
    [
        (15000, 5060, 17, 0, True),  # caller -> proxy
        (5182, 5060, 17, 0, True),  # node -> proxy
        (5060, 15000, 17, 0, True),  # proxy -> caller
        (15000, 5181, 17, 0, True),  # caller -> node (direct)
        (30000, 20000, 17, 0, False),  # RTP
        (15000, 5060, 6, 0, False),  # not UDP
        (15000, 5060, 17, 0x20B9, False),  # a later fragment has no UDP header
        (15000, 5060, 17, 0x2000, True),  # the first fragment has it
    ],
)
def test_filter_keeps_only_udp_to_or_from_the_ports(
    sport: int, dport: int, proto: int, frag: int, kept: bool
) -> None:
    prog = udp_filter([5060, 5181, 5182])
    assert (run_bpf(prog, frame(sport, dport, b"x" * 40, proto, frag)) > 0) == kept


def test_filter_needs_ports() -> None:
    with pytest.raises(ValueError, match="no ports"):
        udp_filter([])


def test_frame_and_sip_parsed() -> None:
    got = udp_payload(frame(15000, 5060, INVITE))
    assert got == (15000, 5060, INVITE)
    invite = parse_sip(1.5, *got)
    assert invite is not None
    assert (invite.method, invite.status, invite.call_id) == ("INVITE", 0, "1-4242@127.0.0.1")
    assert (invite.cseq_method, invite.caller) == ("INVITE", "13800000001")
    ok = parse_sip(1.6, 5060, 15000, OK)  # compact headers (i:, f:)
    assert ok is not None
    assert (ok.status, ok.method, ok.call_id, ok.caller) == (
        200,
        "",
        "1-4242@127.0.0.1",
        "13800000001",
    )
    assert parse_sip(1.0, 1, 2, b"\x80\x00 rtp") is None
    assert parse_sip(1.0, 1, 2, b"SIP/2.0 OK\r\n") is None
    assert udp_payload(b"\x00" * 12 + b"\x86\xdd" + b"\x00" * 60) is None  # IPv6


@pytest.mark.skipif(
    os.geteuid() != 0 and os.environ.get("CI") != "true",
    reason="a packet socket needs root (in CI, which runs as root, it never skips)",
)
def test_capture_on_loopback_sees_only_its_ports() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b,
    ):
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        port_a, port_b = a.getsockname()[1], b.getsockname()[1]
        cap = Capture([port_a])
        cap.start()
        try:
            sent = time.time()
            b.sendto(INVITE, ("127.0.0.1", port_a))
            a.sendto(OK, ("127.0.0.1", port_b))
            b.sendto(INVITE, ("127.0.0.1", port_b))  # neither end is port_a: not captured
            b.sendto(b"not sip", ("127.0.0.1", port_a))  # captured, not SIP
            deadline = time.monotonic() + 5
            while len(cap.packets) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            packets = cap.stop()
    assert [(p.src, p.dst, p.method or p.status) for p in packets] == [
        (port_b, port_a, "INVITE"),
        (port_a, port_b, 200),
    ]
    assert all(sent - 1 < p.at < sent + 5 for p in packets)  # the kernel's wall clock

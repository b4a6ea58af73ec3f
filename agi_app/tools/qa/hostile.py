"""SIPp scenarios of callers who misbehave, for the fault and hostile-input
tests (issue 15): callers who hang up themselves after a while, never ACK the
answer, never answer the BYE, send malformed or oversized INVITEs, or flood a
call with DTMF.

Text a scenario puts on the wire is given as is (inside CDATA): it must not
hold ``[`` or ``]`` (SIPp's keywords) nor ``]]>``.
"""

from __future__ import annotations

import struct
from pathlib import Path

# Final answers a probe INVITE may get instead of 200 (each optional, in SIPp's terms).
REFUSALS = (400, 403, 404, 408, 413, 416, 420, 480, 481, 484, 486, 488, 500, 501, 503, 603)


def invite(
    *, from_user: str = "[field0]", display: str = "", extra: str = "", ruri_user: str = ""
) -> str:
    """An INVITE with an SDP offer; ``extra``: header lines added as they are."""
    name = f'"{display}" ' if display else ""
    user = ruri_user or "[service]"
    lines = [
        f"INVITE sip:{user}@[remote_ip]:[remote_port] SIP/2.0",
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        f"From: {name}<sip:{from_user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]",
        "To: <sip:[service]@[remote_ip]:[remote_port]>",
        "Call-ID: [call_id]",
        "CSeq: 1 INVITE",
        "Contact: <sip:caller@[local_ip]:[local_port]>",
        "Max-Forwards: 70",
        *([extra] if extra else []),
        "Content-Type: application/sdp",
        "Content-Length: [len]",
        "",
        "v=0",
        "o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]",
        "s=-",
        "c=IN IP[media_ip_type] [media_ip]",
        "t=0 0",
        "m=audio [media_port] RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=sendrecv",
    ]
    return "\n".join(lines)


def _send(text: str, attrs: str = "") -> str:
    return f"  <send{attrs}>\n    <![CDATA[\n{text}\n    ]]>\n  </send>\n"


_ACK = """ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0"""

_BYE = """BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0"""

_OK = """SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0"""


def _answered() -> str:
    return (
        '  <recv response="100" optional="true"/>\n'
        '  <recv response="180" optional="true"/>\n'
        '  <recv response="183" optional="true"/>\n'
        '  <recv response="200" rrs="true"/>\n'
    )


def _write(workdir: Path, name: str, body: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.xml"
    path.write_text(
        f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n{body}'
        "</scenario>\n"
    )
    return path


def _hold(hold_ms: int) -> str:
    """Wait up to ``hold_ms`` for the far end's BYE (answer it), else send ours."""
    return (
        f'  <recv request="BYE" timeout="{hold_ms}" ontimeout="hangup" next="their_bye"/>\n'
        '  <label id="hangup"/>\n'
        + _send(_BYE, ' retrans="500"')
        + '  <recv response="200" next="end"/>\n'
        '  <label id="their_bye"/>\n' + _send(_OK) + '  <label id="end"/>\n'
    )


def build_hangs_up_after(workdir: Path, hold_ms: int, invite_text: str = "") -> Path:
    """A caller who listens ``hold_ms`` (digits none) and hangs up, unless the far
    end hangs up first; every call ends successful either way."""
    body = _send(invite_text or invite(), ' retrans="500"') + _answered() + _send(_ACK)
    return _write(workdir, "hangs-up-after", body + _hold(hold_ms))


def build_never_acks(workdir: Path) -> Path:
    """A caller who takes the 200 OK and never sends the ACK (nor anything more)."""
    return _write(workdir, "never-acks", _send(invite(), ' retrans="500"') + _answered())


def build_never_answers_bye(workdir: Path) -> Path:
    """A caller who waits for the far end's BYE and never answers it."""
    body = _send(invite(), ' retrans="500"') + _answered() + _send(_ACK)
    return _write(workdir, "never-answers-bye", body + '  <recv request="BYE"/>\n')


def build_probe(workdir: Path, name: str, invite_text: str, hold_ms: int = 2000) -> Path:
    """One INVITE as given; any refusal (or no answer within 3 s) ends the call
    successfully (a refusal is not ACKed: a hostile caller would not), and an
    answer is ACKed and hung up after ``hold_ms``."""
    refusals = "".join(
        f'  <recv response="{code}" optional="true" next="end"/>\n' for code in REFUSALS
    )
    body = (
        _send(invite_text, ' retrans="500"')
        + '  <recv response="100" optional="true"/>\n'
        + '  <recv response="180" optional="true"/>\n'
        + refusals
        + '  <recv response="200" rrs="true" timeout="3000" ontimeout="end"/>\n'
        + _send(_ACK)
        + _hold(hold_ms)
    )
    return _write(workdir, name, body)


def dtmf_flood_pcap(path: Path, digits: str, gap_ms: int = 10) -> Path:
    """A capture of RFC 2833 events, one digit every ``gap_ms``: a start packet and
    two end packets each, timestamps growing (ethernet/IPv4/UDP/RTP, payload 101)."""
    events = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    seq = 0
    for n, digit in enumerate(digits):
        for k, (end, duration) in enumerate(((False, 160), (True, 400), (True, 400))):
            usec = n * gap_ms * 1000 + k * 2000
            rtp = struct.pack(
                ">BBHII", 0x80, (0x80 if k == 0 else 0) | 101, seq, 8000 + n * 800, 0x1234
            )
            event = struct.pack(">BBH", events[digit], (0x80 if end else 0) | 10, duration)
            udp = struct.pack(">HHHH", 4000, 4000, 8 + len(rtp) + len(event), 0)
            ip = struct.pack(
                ">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(rtp) + len(event),
                0, 0, 64, 17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
            )  # fmt: skip
            frame = b"\x00" * 12 + b"\x08\x00" + ip + udp + rtp + event
            out += struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame))
            out += frame
            seq += 1
    path.write_bytes(bytes(out))
    return path


def build_dtmf_flood(workdir: Path, digits: str, gap_ms: int = 10, hold_ms: int = 30000) -> Path:
    """A caller who answers, sends ``digits`` as fast as ``gap_ms`` apart, and waits
    for the far end to hang up (or hangs up after ``hold_ms``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    pcap = dtmf_flood_pcap(workdir / "flood.pcap", digits, gap_ms)
    play = f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
    body = _send(invite(), ' retrans="500"') + _answered() + _send(_ACK) + play
    return _write(workdir, "dtmf-flood", body + _hold(hold_ms))

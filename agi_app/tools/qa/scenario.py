"""SIPp scenarios generated from a key script, for QA and tests.

A key script reads like ``"wait 2; 2; wait 1; 1"``: pauses in seconds and
digits (0-9, *, #) sent as RFC 2833 events from sip-tester's captures. SIPp
loads pcaps when it parses the scenario and cannot play one file twice in a
call, so every digit gets its own copy of the capture.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

PCAP_DIR = Path("/usr/share/sip-tester")
PCAP_NAME = {"*": "star", "#": "pound", **{str(d): str(d) for d in range(10)}}
DIGIT_GAP_MS = 300  # one capture lasts about 200 ms; the next must not overlap
HUNG_UP = re.compile(r"^hung up after key=(\d+) of=(\d+)", re.M)  # a caller's <log> line


class KeyScriptError(ValueError):
    """A key script that cannot be played."""


@dataclass(frozen=True)
class Step:
    kind: str  # "wait" or "digit"
    value: str  # seconds (as text) or the digit


def parse_keys(script: str) -> list[Step]:
    """Parse ``wait N`` / digit steps separated by ``;`` or ``,``."""
    steps: list[Step] = []
    for raw in re.split(r"[;,]", script):
        token = raw.strip().lower()
        if not token:
            continue
        m = re.fullmatch(r"wait\s+(\d+(?:\.\d+)?)", token)
        if m:
            steps.append(Step("wait", m.group(1)))
        elif re.fullmatch(r"[0-9*#]+", token):
            steps.extend(Step("digit", d) for d in token)
        else:
            raise KeyScriptError(f"cannot read key step {raw.strip()!r} (use 'wait N' or digits)")
    return steps


def keys_unsent(log: str) -> str | None:
    """What a caller's log says of a hotline that hung up during a wait with
    keys still to send (None when it did not)."""
    m = HUNG_UP.search(log)
    if m is None or m.group(1) == m.group(2):
        return None
    return (
        f"the hotline hung up during the key script's wait after {m.group(1)} of its"
        f" {m.group(2)} key(s); the rest were not sent"
    )


def copy_capture(source: Path, target: Path, n: int) -> None:
    """Copy a DTMF capture renumbered as digit ``n`` of the call.

    sip-tester's captures each start at their own sequence number and
    timestamp; replayed as they are, a digit can look older than the one before
    it and Asterisk drops it. Each copy gets sequence numbers and timestamps
    that only grow through the call (ethernet/IPv4/UDP captures).
    """
    data = bytearray(source.read_bytes())
    off, index, first_stamp = 24, 0, None  # 24: the pcap global header
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        ip = off + 16 + 14
        udp = ip + (data[ip] & 0x0F) * 4
        rtp = udp + 8
        stamp = struct.unpack_from(">I", data, rtp + 4)[0]
        first_stamp = stamp if first_stamp is None else first_stamp
        struct.pack_into(
            ">HI",
            data,
            rtp + 2,
            (1000 + 100 * n + index) % 65536,
            (16000 * (n + 1) + stamp - first_stamp) % 2**32,
        )
        struct.pack_into(">H", data, udp + 6, 0)  # no UDP checksum to keep right
        off += 16 + incl
        index += 1
    target.write_bytes(bytes(data))


def _invite(caller: str) -> str:
    return f"""  <send retrans="500" start_rtd="1">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:{caller}@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="1" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      [routes]
      Contact: sip:{caller}@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"""


def _steps_xml(steps: list[Step], pcaps: list[Path], check: str, early_bye: bool) -> str:
    """Digits and waits. With ``early_bye`` every wait (a digit's gap too) is a
    BYE awaited for that long: a hotline that hangs up during it ends the call
    as it would at the end of the script. A <pause> there made that BYE
    unexpected, and SIPp failed a call that went well. Load runs keep the
    <pause>: their call must follow the whole script, and SIPp stays as light."""
    out, sent = [], 0
    last_digit = max((i for i, s in enumerate(steps) if s.kind == "digit"), default=-1)
    for i, step in enumerate(steps):
        if step.kind == "digit":
            rtd = ' start_rtd="2"' if i == last_digit else ""
            pcap = escape(str(pcaps[sent]))
            out.append(f'  <nop{rtd}><action><exec play_pcap_audio="{pcap}"/></action></nop>\n')
            sent += 1
        ms = DIGIT_GAP_MS if step.kind == "digit" else int(float(step.value) * 1000)
        if not early_bye:
            out.append(f'  <pause milliseconds="{ms}"/>\n')
        elif ms > 0:  # a recv with no timeout would wait for SIPp's -recv_timeout
            label = f"step{i}_{step.kind}"
            rtd = ' rtd="2"' if i >= last_digit >= 0 else ""  # after the last digit, as at the end
            log = f'<log message="hung up after key={sent} of={len(pcaps)}"/>'
            out.append(
                f'  <recv request="BYE" timeout="{ms}" ontimeout="{label}" next="bye"{rtd}>'
                f'<action>{check}{log}</action></recv>\n  <label id="{label}"/>\n'
            )
    return "".join(out)


def _cause_check(expect_cause: int | None) -> str:
    """The BYE's Reason must carry ``expect_cause`` (none: any BYE will do)."""
    if expect_cause is None:
        return ""
    return (
        f'<ereg regexp="Q\\.850;cause={expect_cause}([^0-9]|$)" search_in="hdr" '
        f'header="Reason:" check_it="true" assign_to="reason"/>'
    )


def _bye_wait(check: str, has_digits: bool) -> str:
    rtd = ' rtd="2"' if has_digits else ""
    action = f"<action>{check}</action>" if check else ""
    return f"""  <recv request="BYE"{rtd}>{action}</recv>
  <label id="bye"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
"""


def build_caller(
    steps: list[Step],
    workdir: Path,
    *,
    caller: str = "[field0]",
    expect_cause: int | None = None,
    early_bye: bool = True,
) -> Path:
    """Write a caller (UAC) scenario plus its digit captures into ``workdir``;
    ``early_bye``: a hang-up during a wait ends the call well (``_steps_xml``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    pcaps: list[Path] = []
    for n, step in enumerate(s for s in steps if s.kind == "digit"):
        target = workdir / f"digit{n:02d}_{PCAP_NAME[step.value]}.pcap"
        copy_capture(PCAP_DIR / f"dtmf_2833_{PCAP_NAME[step.value]}.pcap", target, n)
        pcaps.append(target)
    check = _cause_check(expect_cause)
    body = _invite(escape(caller)) + _steps_xml(steps, pcaps, check, early_bye)
    body += _bye_wait(check, bool(pcaps))
    refs = '  <Reference variables="reason"/>\n' if expect_cause is not None else ""
    xml = (
        f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="agi-app caller">\n'
        f"{body}{refs}"
        '  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500, 1000"/>\n'
        "</scenario>\n"
    )
    path = workdir / "caller.xml"
    path.write_text(xml)
    return path


def build_refused(workdir: Path, code: int, *, caller: str = "[field0]") -> Path:
    """A caller that expects its INVITE refused with ``code`` (a full cluster's 503,
    say) and checks the refusal carries a Retry-After when ``code`` is 503."""
    workdir.mkdir(parents=True, exist_ok=True)
    who = escape(caller)
    invite = _invite(who).split("  <recv response=")[0]
    check = (
        '<action><ereg regexp="[0-9]+" search_in="hdr" header="Retry-After:"'
        ' check_it="true" assign_to="retry"/></action>'
        if code == 503
        else ""
    )
    refs = '  <Reference variables="retry"/>\n' if code == 503 else ""
    xml = (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="agi-app refused">\n'
        f'{invite}  <recv response="100" optional="true"/>\n'
        f'  <recv response="{code}" rtd="1">{check}</recv>\n'
        "  <send>\n    <![CDATA[\n"
        "      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n"
        "      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        f"      From: <sip:{who}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n"
        "      [last_To:]\n      Call-ID: [call_id]\n      CSeq: 1 ACK\n"
        "      Max-Forwards: 70\n      Content-Length: 0\n    ]]>\n  </send>\n"
        f"{refs}</scenario>\n"
    )
    path = workdir / "refused.xml"
    path.write_text(xml)
    return path

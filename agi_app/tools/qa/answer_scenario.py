"""SIPp scenarios of the answering side, for QA and tests: agents and phones
that answer, hold the call and hang up, or refuse it busy. Every call they
take is logged with who called whom (``runner.Answerer.answered``)."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

# Who called whom, logged by answerers (``Answerer.answered`` reads the lines).
_WHO = (
    '      <ereg regexp="^INVITE sip:([^@;>]+)@" search_in="msg" assign_to="ruri_all,ruri_user"/>\n'
    '      <ereg regexp="sip:([^@;>]+)@" search_in="hdr" header="From:"'
    ' assign_to="from_all,from_user"/>'
)


def _logged(what: str) -> str:
    return (
        '<gettimeofday assign_to="now_s,now_us"/>'
        f'<log message="{what} to=[$ruri_user] from=[$from_user] at=[$now_s] [$now_us]"/>'
    )


def build_busy_agent(workdir: Path, *, name: str = "busy") -> Path:
    """A UAS that refuses every call with 486 Busy Here (an agent on another line)."""
    workdir.mkdir(parents=True, exist_ok=True)
    xml = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="{escape(name)}">
  <recv request="INVITE" crlf="true">
    <action>
{_WHO}
{_logged("rejected")}
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
  <Reference variables="ruri_all,from_all"/>
</scenario>
"""
    path = workdir / f"{name}.xml"
    path.write_text(xml)
    return path


def _talk(hold_ms: int | list[int]) -> tuple[str, str]:
    """Per-call talk times: the n-th call talks ``hold_ms[n-1]``, later ones the last.

    SIPp counts the calls in a global variable; the count picks the BYE wait
    (``test`` + ``next`` is SIPp's conditional jump).
    """
    holds = [hold_ms] if isinstance(hold_ms, int) else list(hold_ms)
    count = ['<add assign_to="served" value="1"/>'] + [
        f'<test assign_to="call{n}" variable="served" compare="equal" value="{n}"/>'
        for n in range(1, len(holds))
    ]
    jumps = [f'  <nop test="call{n}" next="talk{n}"/>' for n in range(1, len(holds))]
    waits = [f'  <label id="talk{n}"/>\n' if n else "" for n in range(len(holds))]
    body = jumps + [
        f'{waits[n]}  <recv request="BYE" timeout="{ms}" ontimeout="hangup" next="bye_ok"/>'
        for n, ms in enumerate([holds[-1], *holds[:-1]])
    ]
    return "".join(count), "\n".join(body)


def build_answerer(
    workdir: Path,
    *,
    hold_ms: int | list[int],
    ring_ms: int = 200,
    name: str = "answerer",
    cause: int | None = None,
) -> Path:
    """A UAS (agent or customer phone): answer, talk ``hold_ms``, hang up
    (with ``Reason: Q.850;cause=<cause>`` when given, as Asterisk does).

    ``hold_ms`` may be a list: one talk time per call, in order, the last repeating.
    If the other side hangs up first, its BYE is answered and the call ends.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    count, waits = _talk(hold_ms)
    reason = f"\n      Reason: Q.850;cause={cause}" if cause is not None else ""
    xml = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="{escape(name)}">
  <Global variables="served"/>
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
      <ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>
{_WHO}
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{escape(name)}@[local_ip]:[local_port]>
      Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="{ring_ms}"/>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{escape(name)}@[local_ip]:[local_port]>
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
    ]]>
  </send>
  <recv request="ACK">
    <action>{_logged("answered")}{count}</action>
  </recv>
{waits}
  <label id="bye_ok"/>
  <send next="end">
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
  <label id="hangup"/>
  <send retrans="500">
    <![CDATA[
      BYE [$remote_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{escape(name)}@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To: [$remote_from]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70{reason}
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
  <label id="end"/>
  <Reference variables="ruri_all,from_all"/>
</scenario>
"""
    path = workdir / f"{name}.xml"
    path.write_text(xml)
    return path

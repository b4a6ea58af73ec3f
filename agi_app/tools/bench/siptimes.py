"""Per-call SIP timings from captured packets (``sipcapture``): pure.

Ports say who sent what: the cluster's ports are ``proxy`` (Kamailio) and
``nodes`` (the IVR nodes' Asterisks); any other port is a caller (SIPp).

- **INVITE->200 as the caller sees it**: from the caller's first INVITE to the
  first 200 for that INVITE sent back to the caller's port.
- **Kamailio's transit**: what the proxy itself adds to that: INVITE in ->
  INVITE out to the node, plus the node's 200 in -> 200 out. A call the proxy
  first sent to a node that did not answer (a failover) has no transit: its
  wait for that node is the failover's, not the proxy's work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from agi_app.tools.bench.sipcapture import SipPacket


@dataclass(frozen=True, slots=True)
class CallTiming:
    """One call as the packets show it."""

    call_id: str
    caller: str  # the From user of the caller's INVITE
    target: int  # the port the caller sent its INVITE to
    invite_at: float  # seconds, CLOCK_REALTIME
    final: int | None  # the first final response the caller got to its INVITE
    answer_ms: float | None  # INVITE -> 200, None when no 200 came
    transit_ms: float | None  # through the proxy only, when it answered 200
    node: int | None  # the node port that answered 200 (through the proxy)
    failover: bool = False  # the proxy tried another node first


def _ms(a: float, b: float) -> float:
    return round(1000 * (b - a), 3)


def call_timings(
    packets: Iterable[SipPacket], proxy: int, nodes: Iterable[int]
) -> list[CallTiming]:
    """Every call whose INVITE from a caller was captured, in INVITE order."""
    cluster = {proxy, *nodes}
    by_call: dict[str, list[SipPacket]] = {}
    for p in packets:
        if p.call_id and p.cseq_method == "INVITE":
            by_call.setdefault(p.call_id, []).append(p)
    out = [t for t in (_timing(cid, ps, proxy, cluster) for cid, ps in by_call.items()) if t]
    return sorted(out, key=lambda t: t.invite_at)


def _first(packets: Sequence[SipPacket], match: Callable[[SipPacket], bool]) -> SipPacket | None:
    return next((p for p in packets if match(p)), None)


def _timing(
    call_id: str, packets: list[SipPacket], proxy: int, cluster: set[int]
) -> CallTiming | None:
    ps = sorted(packets, key=lambda p: p.at)
    invite = _first(ps, lambda p: p.method == "INVITE" and p.src not in cluster)
    if invite is None:
        return None
    back = [p for p in ps if p.status and p.dst == invite.src and p.src == invite.dst]
    final = _first(back, lambda p: p.status >= 200)
    ok = _first(back, lambda p: p.status == 200)
    answer = _ms(invite.at, ok.at) if ok else None
    transit, node, failover = None, None, False
    if ok and invite.dst == proxy:
        node_ok = _first(ps, lambda p: p.status == 200 and p.dst == proxy and p.src != proxy)
        out = _first(ps, lambda p: p.method == "INVITE" and p.src == proxy)
        if node_ok is not None and out is not None:
            node = node_ok.src
            failover = out.dst != node
            if not failover and out.at >= invite.at and ok.at >= node_ok.at:
                transit = round(_ms(invite.at, out.at) + _ms(node_ok.at, ok.at), 3)
    return CallTiming(
        call_id=call_id,
        caller=invite.caller,
        target=invite.dst,
        invite_at=invite.at,
        final=final.status if final else None,
        answer_ms=answer,
        transit_ms=transit,
        node=node,
        failover=failover,
    )


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p`` quantile (0-1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 1))  # ceil(n * p), at least the first
    return round(ordered[min(len(ordered), int(rank)) - 1], 3)

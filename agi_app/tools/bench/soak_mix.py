"""The soak's calls: a mix of paths through the demo flows, and their callers.

Each path is one SIPp key script to one number with its share of the rate.
The shedding level is held at 3 during the soak (``SHEDDING_LEVEL``), so the
10086 paths do not change with the live load the soak itself makes: the
month-end self-service notice first, an agent request offered a callback.
The bank line (95555) does not shed: its agent requests go to the queues,
answered by the SIPp agents. Every call comes from a number of its own, never
in the CRM and never used before in the run: a repeat caller would build
complaint risk (config/risk.yaml, calls in the last 24 hours) and be exempt
from shedding, which changes the 10086 paths. Unknown callers get the
transactions' "not found" branch for balances (a lookup all the same); the
SMS link and the callback booking write rows.
"""

from __future__ import annotations

from dataclasses import dataclass

SHEDDING_LEVEL = 3
AGENT_TALK_MS = 800  # SIPp agents answer after 200 ms ringing, talk, hang up
PHONE_TALK_MS = 15_000  # a callback's phone: the agent (after any queue wait) hangs up first
AGENT_PORTS = {"agent1": 5071, "agent2": 5072, "agent4": 5074}  # support; english
CALL_TIMEOUT_S = 60  # SIPp's wait for the next message of a call (a queue wait included)


@dataclass(frozen=True, slots=True)
class CallPath:
    """One kind of call in the mix."""

    name: str
    number: str  # dialled
    keys: str  # qa.scenario key script
    share: float  # of the soak's rate
    what: str  # for the page


MIX: tuple[CallPath, ...] = (
    CallPath("menu", "100", "wait 1; 1", 0.45, "demo menu, barge-in digit, announcement"),
    CallPath(
        "card",
        "95555",
        "wait 1; 1; wait 2; 1; wait 3; 0007#; wait 7; 9",
        0.25,
        "bank: language menu, main menu, card digits, balance transaction",
    ),
    CallPath(
        "sms", "10086", "wait 2; 1; wait 6; 9", 0.271, "10086: notice menu, SMS-link transaction"
    ),
    CallPath(
        "agent", "95555", "wait 1; 1; wait 2; 0", 0.02, "bank: transfer to support (SIPp agents)"
    ),
    CallPath(
        "agent-en", "95555", "wait 1; 2; wait 2; 0", 0.005, "bank in English: transfer to agent4"
    ),
    CallPath(
        "callback",
        "10086",
        "wait 2; 2; wait 3; 1; wait 6; 0; wait 4; 1",
        0.004,
        "10086: agent request offered a callback, booked, dialled back to a SIPp phone",
    ),
)


def wave_calls(rate: float, seconds: float, mix: tuple[CallPath, ...] = MIX) -> dict[str, int]:
    """Calls per path for one wave of ``seconds`` at ``rate``; they add up to
    ``round(rate * seconds)`` (largest remainders), every path at least one (a
    tiny wave then has a few more)."""
    total = max(len(mix), round(rate * seconds))
    weight = sum(p.share for p in mix)
    exact = {p.name: total * p.share / weight for p in mix}
    counts = {name: max(1, int(x)) for name, x in exact.items()}
    by_remainder = sorted(exact, key=lambda n: exact[n] - int(exact[n]), reverse=True)
    for name in by_remainder[: max(0, total - sum(counts.values()))]:
        counts[name] += 1
    return counts


def caller_numbers(run: int, start: int, n: int) -> list[str]:
    """``n`` mobile numbers of their own: 17, the run's three digits, a six-digit serial
    from ``start``. Different runs (``run`` = seconds of the start, mod 1000) use
    different numbers."""
    if start + n > 10**6:
        raise ValueError(f"a soak run has 1,000,000 caller numbers, not {start + n}")
    return [f"17{run % 1000:03d}{i:06d}" for i in range(start, start + n)]

"""Journeys of a known shape, for the analytics tests and the scale sample.

A ``Journey`` is a path through a flow: its steps (node, type, digits, detail)
with the seconds the caller spent in each node, and how the call ended. The
steps are stamped the way the engine stamps them: a play, transfer, hangup or
logic node when it is entered; a menu, input or transaction when the caller
leaves it (a choice, the digits, the result); a queue result when the caller
leaves the queue (or the agent). A queue result carries, as the app records it, the
seconds in the queue (``wait_s``) and, when an agent answered, the moment
(``answered_at``) and the talk time (``talk_s``): the queue visit split in two.

``month_sample`` draws calls from ``MOBILE_JOURNEYS`` (the paths of
``flows/mobile_10086.yaml``) with a day-shaped arrival curve, a pool of
callers and repeat calls that are likelier after a path that does not
resolve; ``write_calls`` loads them with COPY.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

ENTERED = {"play", "transfer", "hangup", "branch", "set", "goto", "return"}

CALL_COLUMNS = (
    "id", "caller", "caller_e164", "called", "via", "flow", "flow_version", "grade", "lookup",
    "started_at", "ended_at", "outcome", "hangup_cause", "shedding_level", "queue",
    "queue_status", "agent",
)  # fmt: skip
# A step carries its call's start: the partition key (migrations/0009).
STEP_COLUMNS = ("call_id", "seq", "node", "node_type", "digits", "detail", "at", "started_at")


@dataclass(frozen=True)
class Step:
    node: str
    node_type: str
    dwell_s: float = 0.0
    digits: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    wait_s: float | None = None  # a queue result: the part of the dwell before the answer


@dataclass(frozen=True)
class Journey:
    name: str
    steps: tuple[Step, ...]
    outcome: str = "completed"
    cause: int | None = 16
    queue: str | None = None
    queue_status: str | None = None
    agent: str | None = None
    flow: str = "mobile_10086"
    called: str = "10086"
    repeat_p: float = 0.05  # chance that the caller calls again (see month_sample)


@dataclass(frozen=True)
class Call:
    row: tuple[Any, ...]
    steps: list[tuple[Any, ...]]


def stamp(journey: Journey, call_id: str, caller: str, start: datetime) -> Call:
    """The calls row and call_steps rows of one call that walks ``journey``."""
    t = start
    rows: list[tuple[Any, ...]] = []
    for seq, s in enumerate(journey.steps, 1):
        if s.node_type in ENTERED:
            at, t = t, t + timedelta(seconds=s.dwell_s)
        else:
            t = t + timedelta(seconds=s.dwell_s)
            at = t
        detail = s.detail
        if s.wait_s is not None:
            detail = {**detail, "wait_s": s.wait_s}
        if s.wait_s is not None and detail.get("status") == "ANSWERED":
            talk = round(s.dwell_s - s.wait_s, 3)  # the agent picked up talk_s before the result
            answered = at - timedelta(seconds=talk)
            detail = {**detail, "answered_at": answered.isoformat(), "talk_s": talk}
        rows.append((call_id, seq, s.node, s.node_type, s.digits, json.dumps(detail), at, start))
    j = journey
    row = (
        call_id, caller, caller, j.called, "ari", j.flow, "gen", "standard", "ok", start, t,
        j.outcome, j.cause, 0, j.queue, j.queue_status, j.agent,
    )  # fmt: skip
    return Call(row, rows)


def _menu(node: str, digit: str, dwell: float, kind: str = "menu", **detail: Any) -> Step:
    base = {"retries": 0, "invalid": 0, "timeouts": 0}
    return Step(node, kind, dwell, digit, {**base, **detail})


def _tx(node: str, name: str, ok: bool = True, dwell: float = 0.3) -> Step:
    return Step(node, "transaction", dwell, "", {"name": name, "ok": ok})


ENTRY = Step("entry", "branch", 0.0, "", {"case": "default"})
WELCOME = Step("welcome", "play", 4.0)
BYE = Step("bye", "hangup", 3.0, "", {"cause": 16})


def _self_service(name: str, digit: str, tx: str, node: str, say: str) -> Journey:
    return Journey(
        name,
        (
            ENTRY, WELCOME, _menu("main", digit, 15.0, "dynamic_menu"), _tx(node, tx),
            Step(say, "play", 8.0), _menu("after_service", "9", 5.0), BYE,
        ),
    )  # fmt: skip


def _to_agent(queue_status: str, dwell_s: float, wait_s: float | None = None) -> tuple[Step, ...]:
    """Into the queue; out of it ``dwell_s`` later (``wait_s`` of it before an agent answered)."""
    result = {"status": queue_status, "agent": None}
    return (
        Step("agent", "branch", 0.0, "", {"case": "default"}),
        Step("to_support", "transfer", 0.0, "", {"queue": "support", "priority": 0}),
        Step("to_support", "queue_result", dwell_s, "", result, wait_s),
    )


# An answered agent call: 40 s in the queue, then 200 s with the agent.
QUEUE_WAIT_S = 40.0
TALK_S = 200.0


def _answered(name: str, before: tuple[Step, ...]) -> Journey:
    steps = (*before, *_to_agent("ANSWERED", QUEUE_WAIT_S + TALK_S, QUEUE_WAIT_S), BYE)
    return Journey(name, steps, "transferred", 16, "support", "ANSWERED", "agent1", repeat_p=0.08)


MAIN_AGENT = (ENTRY, WELCOME, _menu("main", "5", 15.0, "dynamic_menu"))
MOBILE_JOURNEYS: dict[str, tuple[Journey, float]] = {
    "balance": (_self_service("balance", "1", "balance", "balance", "say_balance"), 0.30),
    "plan": (_self_service("plan", "3", "current_plan", "plan", "say_plan"), 0.08),
    "data": (_self_service("data", "4", "data_usage", "data", "say_data"), 0.10),
    "bill": (
        Journey(
            "bill",
            (
                ENTRY,
                WELCOME,
                _menu("main", "2", 12.0, "dynamic_menu"),
                _menu("bill_menu", "1", 9.0),
                _tx("bill", "latest_bill"),
                Step("say_bill", "play", 10.0),
                _menu("after_service", "9", 5.0),
                BYE,
            ),
        ),
        0.10,
    ),
    "no_data": (
        Journey(
            "no_data",
            (
                ENTRY,
                WELCOME,
                _menu("main", "1", 15.0, "dynamic_menu"),
                _tx("balance", "balance", ok=False, dwell=2.0),
                Step("no_data", "play", 4.0),
                _menu("after_service", "9", 5.0),
                BYE,
            ),
            repeat_p=0.4,
        ),
        0.03,
    ),
    "agent": (_answered("agent", MAIN_AGENT), 0.20),
    "balance_then_agent": (
        _answered(
            "balance_then_agent",
            (
                ENTRY,
                WELCOME,
                _menu("main", "1", 15.0, "dynamic_menu"),
                _tx("balance", "balance"),
                Step("say_balance", "play", 8.0),
                _menu("after_service", "0", 6.0),
            ),
        ),
        0.05,
    ),
    "menu_timeout_agent": (
        _answered(
            "menu_timeout_agent",
            (
                ENTRY,
                WELCOME,
                _menu("main", "", 30.0, "dynamic_menu", retries=3, timeouts=3, result="failed"),
            ),
        ),
        0.02,
    ),
    "callback": (
        Journey(
            "callback",
            (
                *MAIN_AGENT,
                *_to_agent("TIMEOUT", 60.0, 60.0),
                _menu("callback_offer", "1", 8.0),
                _tx("request_callback", "request_callback"),
                Step("callback_booked", "hangup", 5.0, "", {"cause": 16}),
            ),
            "callback",
            16,
            "support",
            "TIMEOUT",
            repeat_p=0.3,
        ),
        0.03,
    ),
    "hangup_in_queue": (
        Journey(
            "hangup_in_queue",
            (
                *MAIN_AGENT,
                _to_agent("ANSWERED", 0.0)[0],
                replace(_to_agent("", 0)[1], dwell_s=45.0),
            ),
            "abandoned",
            16,
            "support",
            "ABANDON",
            repeat_p=0.5,
        ),
        0.04,
    ),
    "hangup_at_welcome": (
        Journey("hangup_at_welcome", (ENTRY, WELCOME), "abandoned", 16, repeat_p=0.3),
        0.05,
    ),
}
# Seconds the dwell of each node varies by (uniformly, +-), so medians differ from p90.
JITTER = 0.5
# Arrivals per hour of the day (relative): quiet nights, peaks at 10:00, 15:00, 20:00.
HOURLY = (1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3, 5, 7, 8, 7.5, 6, 6.5, 7.5, 8, 7, 6, 6.5, 7, 7.5,
          6, 4, 2)  # fmt: skip


def jittered(journey: Journey, rng: random.Random) -> Journey:
    """The journey with each dwell time scaled by a random factor in [1-J, 1+J]
    (a queue result's wait by the same factor: wait and talk keep their shares)."""
    steps = []
    for s in journey.steps:
        f = rng.uniform(1 - JITTER, 1 + JITTER)
        wait = None if s.wait_s is None else round(s.wait_s * f, 3)
        steps.append(replace(s, dwell_s=round(s.dwell_s * f, 3), wait_s=wait))
    return replace(journey, steps=tuple(steps))


def month_sample(
    start: datetime, days: int, calls_per_day: int, seed: int = 17
) -> Iterator[list[Call]]:
    """One list of calls per day from ``start`` (an aware midnight in the hotline's zone)."""
    rng = random.Random(seed)
    names = list(MOBILE_JOURNEYS)
    weights = [MOBILE_JOURNEYS[n][1] for n in names]
    total = sum(HOURLY)
    pending: list[tuple[datetime, str]] = []  # repeat calls scheduled for later days
    n = 0
    for day in range(days):
        midnight = start + timedelta(days=day)
        end = midnight + timedelta(days=1)
        starts = [
            (midnight + timedelta(hours=h, seconds=rng.uniform(0, 3600)), "")
            for h, w in enumerate(HOURLY)
            for _ in range(round(calls_per_day * w / total))
        ]
        starts += [p for p in pending if p[0] < end]
        pending = [p for p in pending if p[0] >= end]
        calls: list[Call] = []
        for when, known in sorted(starts):
            n += 1
            caller = known or f"+8613{rng.randrange(10**9):09d}"
            journey = MOBILE_JOURNEYS[rng.choices(names, weights)[0]][0]
            call_id = f"{when.timestamp():.0f}.{seed}{n}"  # as Asterisk: <epoch>.<n>
            calls.append(stamp(jittered(journey, rng), call_id, caller, when))
            if rng.random() < journey.repeat_p:
                hours = rng.expovariate(1 / 30)  # a third within a day, most within a week
                pending.append((when + timedelta(hours=hours), caller))
        yield calls


async def write_calls(conn: Any, calls: Sequence[Call]) -> None:
    """Load calls and their steps with COPY (ids must be new). The steps go in
    the order of their time, as the journey writer stores them: the steps of
    one call lie among those of the calls beside it, not next to each other."""
    await conn.copy_records_to_table("calls", records=[c.row for c in calls], columns=CALL_COLUMNS)
    at = STEP_COLUMNS.index("at")
    steps = sorted((s for c in calls for s in c.steps), key=lambda s: s[at])
    await conn.copy_records_to_table("call_steps", records=steps, columns=STEP_COLUMNS)

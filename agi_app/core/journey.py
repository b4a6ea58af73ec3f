"""The call journey: what happened on each call, step by step.

The per-call code only *enqueues* journey events (no I/O on the hot path);
``agi_app.adapters.postgres.journeys.JourneyWriter`` batches them into PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass
class CallStart:
    call_id: str
    caller: str
    called: str
    via: str  # "ari" or "agi"
    started_at: datetime


@dataclass
class CallStep:
    call_id: str
    node: str
    node_type: str
    at: datetime
    digits: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    # The sounds this node asked Asterisk to play, in order, each with its
    # barge-in flag (stored in the step's detail as "prompts"; QA's heard check
    # matches the caller's recording against them).
    prompts: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class CallEnd:
    call_id: str
    ended_at: datetime
    outcome: str  # completed, transferred, abandoned, timeout, failed, callback, refused
    hangup_cause: int | None = None
    # Facts learned during the call: flow, flow_version, caller_e164, grade,
    # lookup ("ok", "unknown", "lookup_failed"), shedding_level, shedding_rule,
    # queue, agent, queue_status.
    facts: dict[str, Any] = field(default_factory=dict)


JourneyEvent = CallStart | CallStep | CallEnd


class JourneySink(Protocol):
    """Where journey events go; must not block."""

    def emit(self, event: JourneyEvent) -> None: ...


class MemoryJourney:
    """A sink that keeps events in a list (tests, dry runs)."""

    def __init__(self) -> None:
        self.events: list[JourneyEvent] = []

    def emit(self, event: JourneyEvent) -> None:
        self.events.append(event)


class TeeJourney:
    """A sink that hands every event to several sinks (the writer, the exporter)."""

    def __init__(self, *sinks: JourneySink) -> None:
        self.sinks = sinks

    def emit(self, event: JourneyEvent) -> None:
        for sink in self.sinks:
            sink.emit(event)

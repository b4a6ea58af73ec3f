"""What a QA scenario expects, and the pure checks against what was seen.

Each kind of expectation is one model, told apart by its first key
(``journey:``, ``order:``, ``callback:``), with one ``check`` that reads the
observations of the run (``Seen``) and returns a ``Verdict`` saying what was
expected and what was seen. A new kind is one more model with its ``check``,
added to ``Expectation`` (and, if it needs a new observation, one more field
of ``Seen`` that the executor fills).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from agi_app.core.numbers import normalise

WILDCARD = "..."


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    what: str  # e.g. "journey std"
    seen: str  # what was seen (and, on a failure, what was expected)

    def __str__(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.what}: {self.seen}"


@dataclass(frozen=True)
class Connect:
    """A caller connected to an agent (AMI AgentConnect)."""

    t: float  # seconds since the run began
    caller: str | None  # scenario caller id, None for a call not of this scenario
    number: str
    agent: str
    queue: str


@dataclass(frozen=True)
class Dialled:
    """A call the customers' phone (behind the pstn trunk) answered."""

    at: dt.datetime
    number: str  # E.164


@dataclass
class Seen:
    """Everything observed during a run, for the checks."""

    journeys: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # caller id ->
    connects: list[Connect] = field(default_factory=list)
    callbacks: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # E.164 -> row
    dialled: list[Dialled] = field(default_factory=list)
    heard: dict[str, Any] = field(default_factory=dict)  # caller id -> HeardReport or error text


def node_path(steps: list[dict[str, Any]]) -> list[str]:
    """``node[digits]`` per journey step."""
    return [s["node"] + (f"[{s['digits']}]" if s["digits"] else "") for s in steps]


def path_matches(expected: list[str], seen: list[str]) -> bool:
    """Step by step; ``...`` stands for any run of steps (none included)."""
    if not expected:
        return not seen
    head, rest = expected[0], expected[1:]
    if head == WILDCARD:
        return any(path_matches(rest, seen[i:]) for i in range(len(seen) + 1))
    return bool(seen) and seen[0] == head and path_matches(rest, seen[1:])


def split_path(text: str) -> list[str]:
    return [p.strip() for p in text.split(">") if p.strip()]


class JourneyExpect(Strict):
    """A caller's journey as the app recorded it."""

    journey: str  # caller id
    path: str | None = None  # "entry > welcome > ...", "..." for any steps
    outcome: str | None = None
    grade: str | None = None
    queue: str | None = None
    via: str | None = None  # ari or agi
    shedding_level: int | None = Field(default=None, ge=0, le=4)

    def callers(self) -> list[str]:
        return [self.journey]

    def check(self, seen: Seen) -> Verdict:
        what = f"journey {self.journey}"
        j = seen.journeys.get(self.journey)
        if j is None:
            return Verdict(False, what, "no journey was recorded for this call")
        path = node_path(j["steps"])
        wrong = []
        if self.path is not None and not path_matches(split_path(self.path), path):
            wrong.append(f"path expected {self.path}")
        for name in ("outcome", "grade", "queue", "via", "shedding_level"):
            want = getattr(self, name)
            if want is not None and j.get(name) != want:
                wrong.append(f"{name} expected {want!r}, was {j.get(name)!r}")
        seen_text = (
            f"outcome={j['outcome']} grade={j['grade']} shedding={j['shedding_level']}"
            f" queue={j['queue']} agent={j['agent']}; path {' > '.join(path)}"
        )
        if wrong:
            return Verdict(False, what, "; ".join(wrong) + f"\n    seen {seen_text}")
        return Verdict(True, what, seen_text)


class OrderExpect(Strict):
    """The order in which these callers reached an agent (others are ignored)."""

    order: list[str] = Field(min_length=2)
    queue: str | None = None

    def callers(self) -> list[str]:
        return list(self.order)

    def check(self, seen: Seen) -> Verdict:
        firsts: dict[str, Connect] = {}
        for c in seen.connects:
            if c.caller in self.order and (self.queue is None or c.queue == self.queue):
                firsts.setdefault(c.caller, c)
        got = sorted(firsts.values(), key=lambda c: c.t)
        text = ", ".join(f"{c.caller} ({c.agent} t+{c.t:.1f}s)" for c in got)
        missing = [c for c in self.order if c not in firsts]
        what = "order " + " < ".join(self.order)
        if missing:
            return Verdict(False, what, f"never reached an agent: {', '.join(missing)}; {text}")
        if [c.caller for c in got] != self.order:
            return Verdict(False, what, f"expected {', '.join(self.order)}\n    seen {text}")
        return Verdict(True, what, text)


class CallbackExpect(Strict):
    """A callback booked for a number during the run, dialled within ``within_s``."""

    callback: str  # the number, as a caller would dial from it
    within_s: float = Field(gt=0, le=600)  # from the booking to the phone answering

    def callers(self) -> list[str]:
        return []

    @property
    def e164(self) -> str:
        return normalise(self.callback) or self.callback

    def check(self, seen: Seen) -> Verdict:
        what = f"callback {self.callback} within {self.within_s:g}s"
        e164 = self.e164
        row = seen.callbacks.get(e164)
        if row is None:
            return Verdict(False, what, f"no callback was booked for {e164} during the run")
        booked: dt.datetime = row["requested_at"]
        calls = [d for d in seen.dialled if d.number == e164 and d.at >= booked]
        state = f"state={row['state']} attempts={row['attempts']}"
        if not calls:
            return Verdict(False, what, f"booked, never dialled to the phone ({state})")
        after = (calls[0].at - booked).total_seconds()
        text = f"booked, dialled {after:.1f}s later ({state})"
        return Verdict(after <= self.within_s, what, text)


class HeardExpect(Strict):
    """Every prompt the caller's journey names was heard (``qa call --heard``): that
    caller is placed by the recording user agent instead of SIPp."""

    heard: str  # caller id

    def callers(self) -> list[str]:
        return [self.heard]

    def check(self, seen: Seen) -> Verdict:
        what = f"heard {self.heard}"
        report = seen.heard.get(self.heard)
        if report is None:
            return Verdict(False, what, "no recording or no journey to check it against")
        if isinstance(report, str):
            return Verdict(False, what, report)
        table = "\n    ".join(report.table().splitlines())
        return Verdict(bool(report.ok), what, table)


KINDS = ("journey", "order", "callback", "heard")  # each expectation's first key, its tag below


def _kind(raw: Any) -> str | None:
    if isinstance(raw, dict):
        return next((k for k in KINDS if k in raw), None)
    if isinstance(raw, BaseModel):
        return next((k for k in KINDS if hasattr(raw, k)), None)
    return None


Expectation = Annotated[
    Annotated[JourneyExpect, Tag("journey")]
    | Annotated[OrderExpect, Tag("order")]
    | Annotated[CallbackExpect, Tag("callback")]
    | Annotated[HeardExpect, Tag("heard")],
    Discriminator(
        _kind,
        custom_error_type="expectation_kind",
        custom_error_message="an expectation starts with journey:, order:, callback: or heard:",
    ),
]

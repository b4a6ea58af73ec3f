"""A QA scenario file (``tests/qa/*.yaml``): parties, timing and expectations.

Validated like flows: the model (pydantic, ``extra="forbid"``), then checks
against the installation (the called lines the flows serve, the agents of
``config/queues.yaml``, ports that do not overlap). Every error names the
file and the field; ``load_plan`` reports them all at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from agi_app.core.flows.loader import Known, load_flowset
from agi_app.core.routing.config import load_queues
from agi_app.settings import Settings
from agi_app.tools.qa.expect import KINDS, CallbackExpect, Expectation, Strict
from agi_app.tools.qa.scenario import KeyScriptError, parse_keys

EVENTS = ("started", "queued", "connected", "ended")
_AFTER = re.compile(r"^([A-Za-z0-9_-]+)\s+(" + "|".join(EVENTS) + r")$")


class PlanError(ValueError):
    """A scenario file that cannot be run; ``errors`` are "file: field: message"."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class Agent(Strict):
    """A SIPp phone on an agent endpoint of config/queues.yaml."""

    # Then the agent hangs up; a list gives each call its own, the last repeating.
    talk_s: Annotated[float, Field(gt=0, le=600)] | list[Annotated[float, Field(gt=0, le=600)]] = 5
    busy: bool = False  # refuses every call (486 Busy Here)

    def talk_ms(self) -> int | list[int]:
        if isinstance(self.talk_s, list):
            return [int(t * 1000) for t in self.talk_s] or [5000]
        return int(self.talk_s * 1000)

    media_port: int | None = Field(default=None, ge=1024, le=65532)


class Phone(Strict):
    """The customers' phones behind the pstn trunk (where callbacks ring)."""

    talk_s: float = Field(default=3, gt=0, le=600)
    media_port: int | None = Field(default=None, ge=1024, le=65532)


class Caller(Strict):
    number: str = Field(pattern=r"^(\+?[0-9]{3,20}|anonymous)$")
    line: str = Field(pattern=r"^[0-9]{2,20}$")  # the called number
    keys: str = ""  # key script: "wait 2; 1; wait 3; 0007#"
    cause: int | None = Field(default=16, ge=1, le=127)  # the BYE's Q.850 cause; null: any
    at: float | None = Field(default=None, ge=0, le=600)  # seconds from the start
    after: list[str] = Field(default_factory=list)  # "<caller> started|queued|connected|ended"
    delay_s: float = Field(default=0, ge=0, le=600)  # more, once ``after`` holds
    timeout_s: float = Field(default=90, gt=0, le=600)
    port: int | None = Field(default=None, ge=1024, le=65535)
    media_port: int | None = Field(default=None, ge=1024, le=65532)

    @field_validator("after", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("after")
    @classmethod
    def _events(cls, v: list[str]) -> list[str]:
        for cond in v:
            if not _AFTER.match(cond.strip()):
                raise ValueError(f"{cond!r}: write '<caller> {'|'.join(EVENTS)}'")
        return [c.strip() for c in v]

    @field_validator("keys")
    @classmethod
    def _keys(cls, v: str) -> str:
        try:
            parse_keys(v)
        except KeyScriptError as exc:
            raise ValueError(str(exc)) from exc
        return v

    @model_validator(mode="after")
    def _start(self) -> Caller:
        if self.at is not None and self.after:
            raise ValueError("give 'at' or 'after', not both")
        return self


class Scenario(Strict):
    description: str = ""
    clock: datetime | None = None  # the business clock for the run (restored after)
    shedding: int | None = Field(default=None, ge=0, le=4)  # a level forced for the run
    timeout_s: float = Field(default=120, gt=0, le=900)
    agents: dict[str, Agent] = Field(default_factory=dict)
    phone: Phone | None = None
    callers: dict[str, Caller] = Field(min_length=1)
    expect: list[Expectation] = Field(min_length=1)


@dataclass(frozen=True)
class Installation:
    """What a scenario may refer to: lines, agent endpoints and their ports."""

    lines: frozenset[str]
    agent_ports: dict[str, int]  # endpoint -> SIP port (config/queues.yaml)
    reserved_ports: dict[int, str]  # the stack's own ports -> what holds them


def check_plan(scn: Scenario, inst: Installation) -> list[str]:
    """Cross-checks the model cannot do alone; "field: message" each."""
    errors: list[str] = []
    for name in scn.agents:
        if name not in inst.agent_ports:
            known = ", ".join(sorted(inst.agent_ports))
            errors.append(f"agents.{name}: not an agent endpoint of config/queues.yaml ({known})")
    numbers: dict[str, str] = {}
    for cid, c in scn.callers.items():
        if c.line not in inst.lines:
            errors.append(f"callers.{cid}.line: no flow serves {c.line!r}")
        if c.number in numbers:
            errors.append(f"callers.{cid}.number: {c.number} also calls as {numbers[c.number]}")
        numbers.setdefault(c.number, cid)
        for i, cond in enumerate(c.after):
            other = cond.split()[0]
            if other not in scn.callers or other == cid:
                errors.append(f"callers.{cid}.after.{i}: unknown caller {other!r}")
    errors += _cycles(scn)
    for i, exp in enumerate(scn.expect):
        for cid in exp.callers():
            if cid not in scn.callers:
                errors.append(f"expect.{i}: unknown caller {cid!r}")
        if isinstance(exp, CallbackExpect) and scn.phone is None:
            errors.append(f"expect.{i}: a callback needs a 'phone:' to ring")
    return errors + _port_overlaps(scn, inst)


def _cycles(scn: Scenario) -> list[str]:
    waits = {cid: [a.split()[0] for a in c.after] for cid, c in scn.callers.items()}
    done: set[str] = set()

    def visit(cid: str, chain: list[str]) -> list[str] | None:
        if cid in chain:
            return [*chain[chain.index(cid) :], cid]
        if cid in done or cid not in waits:
            return None
        for other in waits[cid]:
            cycle = visit(other, [*chain, cid])
            if cycle:
                return cycle
        done.add(cid)
        return None

    for cid in waits:
        cycle = visit(cid, [])
        if cycle:
            return [f"callers.{cycle[0]}.after: waits on itself ({' -> '.join(cycle)})"]
    return []


def _port_overlaps(scn: Scenario, inst: Installation) -> list[str]:
    taken: dict[int, str] = dict(inst.reserved_ports)
    errors: list[str] = []

    def claim(port: int | None, span: int, where: str) -> None:
        if port is None:
            return
        for p in range(port, port + span):
            if p in taken:
                errors.append(f"{where}: port {p} overlaps {taken[p]}")
                return
        taken.update({p: where for p in range(port, port + span)})

    for name in scn.agents:
        if name in inst.agent_ports:
            claim(inst.agent_ports[name], 1, f"agents.{name} (config/queues.yaml)")
    for name, a in scn.agents.items():
        claim(a.media_port, 3, f"agents.{name}.media_port")
    if scn.phone is not None:
        claim(scn.phone.media_port, 3, "phone.media_port")
    for cid, c in scn.callers.items():
        claim(c.port, 1, f"callers.{cid}.port")
        claim(c.media_port, 3, f"callers.{cid}.media_port")
    return errors


def load_plan(path: Path, inst: Installation) -> Scenario:
    """The validated scenario, or PlanError with every error naming file and field."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PlanError([f"{path}: {exc}"]) from exc
    try:
        scn = Scenario.model_validate(raw)
    except ValidationError as exc:
        errors = [
            f"{_loc(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        ]
        raise PlanError([f"{path}: {e}" for e in errors]) from exc
    errors = check_plan(scn, inst)
    if errors:
        raise PlanError([f"{path}: {e}" for e in errors])
    return scn


def _loc(loc: tuple[Any, ...]) -> str:
    # Tags of the expectation union ("journey", "order"...) repeat the key: drop them.
    parts = [str(p) for p in loc]
    if len(parts) >= 3 and parts[0] == "expect" and parts[2] in KINDS:
        del parts[2]
    return ".".join(parts) or "(top)"


def installation(s: Settings) -> Installation:
    """Lines the flows serve (also as 7<n> and 6<n>, and 8000), agents and stack ports."""
    flows, errors = load_flowset([s.flows_dir], Known())
    if flows is None:
        raise PlanError([f"flows: {e}" for e in errors])
    lines = {"8000"}
    for n in flows.by_number:
        lines |= {n, f"7{n}", f"6{n}"}
    agents = {
        m.endpoint: m.port
        for q in load_queues(s.config_dir / "queues.yaml").queues.values()
        for m in q.members
    }
    reserved = {
        s.sip_port: "Asterisk SIP",
        s.pstn_port: "the pstn trunk (phone:)",
        s.http_port: "ARI",
        s.ami_port: "AMI",
        s.agi_port: "FastAGI",
        s.admin_port: "the admin endpoint",
        s.pg_port: "PostgreSQL",
        **{p: f"Asterisk RTP ({s.rtp_start}-{s.rtp_end})" for p in range(s.rtp_start, s.rtp_end)},
    }
    return Installation(frozenset(lines), agents, reserved)

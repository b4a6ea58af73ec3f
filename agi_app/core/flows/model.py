"""Flow files as data: pydantic models with ``extra="forbid"``.

A flow is a graph of nodes keyed by id; every node names the next node(s).
Prompts are text, or a mapping ``{zh: ..., en: ...}`` chosen by the caller's
language; ``{field}`` placeholders are filled from the data bus at call time.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Prompt = str | dict[str, str]
LANGUAGES = ("zh", "en")
QUEUE_STATUSES = (
    "ANSWERED",
    "TIMEOUT",
    "FULL",
    "JOINEMPTY",
    "LEAVEEMPTY",
    "JOINUNAVAIL",
    "LEAVEUNAVAIL",
    "CONTINUE",
    "default",
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(Strict):
    """All given tests must hold (an empty condition always holds)."""

    grade_in: list[str] | None = None
    grade_not_in: list[str] | None = None
    tags_any: list[str] | None = None
    shedding_level_gte: int | None = None
    actions_any: list[str] | None = None
    language: str | None = None
    lookup: Literal["ok", "unknown", "lookup_failed"] | None = None
    status: Literal["active", "suspended"] | None = None
    var: str | None = None  # a data-bus value, tested with equals / matches / present
    equals: Any = None
    matches: str | None = None
    present: bool | None = None
    day_of_month_from: int | None = Field(default=None, ge=1, le=31)
    day_of_month_to: int | None = Field(default=None, ge=1, le=31)
    last_days_of_month: int | None = Field(default=None, ge=1, le=28)

    @field_validator("matches")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:  # at load time, not at the first call that gets here
                raise ValueError(f"bad regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _var_given(self) -> Condition:
        tests = [n for n in ("equals", "matches", "present") if getattr(self, n) is not None]
        if tests and self.var is None:  # without var the test would always hold
            raise ValueError(f"{', '.join(tests)} tests a bus value: name it with var")
        return self


class NodeBase(Strict):
    label: str | None = None  # shown in diagrams


class Play(NodeBase):
    type: Literal["play"]
    prompts: list[Prompt] = Field(min_length=1)
    barge_in: bool = True
    next: str | None = None


class Menu(NodeBase):
    type: Literal["menu"]
    prompt: Prompt
    choices: dict[str, str] = Field(min_length=1)
    timeout_s: float = Field(default=5, gt=0, le=60)
    max_retries: int = Field(default=2, ge=0, le=9)
    invalid_prompt: Prompt | None = None
    timeout_prompt: Prompt | None = None
    on_failure: str

    @field_validator("choices")
    @classmethod
    def _digits(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if k not in "0123456789#" or len(k) != 1]
        if bad:
            raise ValueError(f"choice keys must be single digits 0-9 or #, not {bad}")
        return v


class Input(NodeBase):
    type: Literal["input"]
    prompt: Prompt
    store_as: str
    min_length: int = Field(default=1, ge=1, le=32)
    max_length: int = Field(default=16, ge=1, le=32)
    terminator: str | None = "#"
    first_timeout_s: float = Field(default=8, gt=0, le=60)
    inter_digit_timeout_s: float = Field(default=4, gt=0, le=30)
    pattern: str | None = None
    max_retries: int = Field(default=2, ge=0, le=9)
    invalid_prompt: Prompt | None = None
    next: str
    on_failure: str

    @model_validator(mode="after")
    def _lengths(self) -> Input:
        if self.min_length > self.max_length:  # no answer could ever be accepted
            raise ValueError(
                f"min_length {self.min_length} is more than max_length {self.max_length}"
            )
        return self


class Transaction(NodeBase):
    type: Literal["transaction"]
    name: str
    args: dict[str, str] = Field(default_factory=dict)  # templates over bus values
    store_as: str | None = None
    timeout_s: float = Field(default=2, gt=0, le=30)
    on_success: str
    on_failure: str


class Case(Strict):
    when: Condition
    goto: str


class Branch(NodeBase):
    type: Literal["branch"]
    cases: list[Case] = Field(min_length=1)
    default: str


class MenuItem(Strict):
    label: Prompt
    target: str
    kind: Literal["self_service", "agent", "cross_sell"] = "self_service"
    when: Condition | None = None


class DynamicMenu(NodeBase):
    type: Literal["dynamic_menu"]
    intro: Prompt | None = None
    items: list[MenuItem] = Field(min_length=1, max_length=9)
    timeout_s: float = Field(default=5, gt=0, le=60)
    max_retries: int = Field(default=2, ge=0, le=9)
    invalid_prompt: Prompt | None = None
    on_failure: str


class Transfer(NodeBase):
    type: Literal["transfer"]
    queue: str
    priority: int | None = Field(default=None, ge=0, le=100)
    timeout_s: int = Field(default=60, ge=1, le=3600)
    announce: Prompt | None = None
    on_status: dict[str, str] = Field(default_factory=dict)

    @field_validator("on_status")
    @classmethod
    def _statuses(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if k not in QUEUE_STATUSES]
        if bad:
            raise ValueError(f"unknown queue status {bad}; use {', '.join(QUEUE_STATUSES)}")
        return v


class Goto(NodeBase):
    type: Literal["goto"]
    flow: str
    node: str | None = None
    return_to: str | None = None


class Return(NodeBase):
    type: Literal["return"]


class Set(NodeBase):
    type: Literal["set"]
    values: dict[str, Any]
    next: str


class Hangup(NodeBase):
    type: Literal["hangup"]
    prompt: Prompt | None = None
    cause: int = Field(default=16, ge=1, le=127)
    outcome: str = "completed"


Node = Annotated[
    Play
    | Menu
    | Input
    | Transaction
    | Branch
    | DynamicMenu
    | Transfer
    | Goto
    | Return
    | Set
    | Hangup,
    Field(discriminator="type"),
]
INPUT_TYPES = ("menu", "input", "dynamic_menu", "transfer")


class Flow(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = ""
    language: Literal["zh", "en"] = "zh"
    entry_numbers: list[str] = Field(default_factory=list)
    default: bool = False
    start: str
    nodes: dict[str, Node] = Field(min_length=1)


def targets(node: Any) -> list[tuple[str, str]]:
    """(field, target node id) pairs a node can go to within its flow."""
    out: list[tuple[str, str]] = []
    fields = type(node).model_fields  # a field a node type lacks costs an exception
    for name in ("next", "on_failure", "on_success", "default", "return_to"):
        value = getattr(node, name) if name in fields else None
        if isinstance(value, str):
            out.append((name, value))
    if isinstance(node, Menu):
        out += [(f"choices.{k}", v) for k, v in node.choices.items()]
    if isinstance(node, Branch):
        out += [(f"cases.{i}.goto", c.goto) for i, c in enumerate(node.cases)]
    if isinstance(node, DynamicMenu):
        out += [(f"items.{i}.target", it.target) for i, it in enumerate(node.items)]
    if isinstance(node, Transfer):
        out += [(f"on_status.{k}", v) for k, v in node.on_status.items()]
    return out


def prompts_of(node: Any) -> list[tuple[str, Prompt]]:
    """(field, prompt) pairs of a node, for rendering and validation."""
    out: list[tuple[str, Prompt]] = []
    fields = type(node).model_fields
    for name in ("prompt", "invalid_prompt", "timeout_prompt", "intro", "announce"):
        value = getattr(node, name) if name in fields else None
        if value is not None:
            out.append((name, value))
    if isinstance(node, Play):
        out += [(f"prompts.{i}", p) for i, p in enumerate(node.prompts)]
    if isinstance(node, DynamicMenu):
        out += [(f"items.{i}.label", it.label) for i, it in enumerate(node.items)]
    return out


def conditions_of(node: Any) -> list[tuple[str, Condition]]:
    """(field, condition) pairs of a node, for validation."""
    if isinstance(node, Branch):
        return [(f"cases.{i}.when", c.when) for i, c in enumerate(node.cases)]
    if isinstance(node, DynamicMenu):
        return [(f"items.{i}.when", it.when) for i, it in enumerate(node.items) if it.when]
    return []

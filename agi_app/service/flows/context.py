"""What a node runner gets: the call, its data bus, the flow set, the engine's parts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from agi_app.core.bus import DataBus
from agi_app.core.callcontrol import CallControl
from agi_app.core.clock import Clock, wall_now
from agi_app.core.controls import Announcement
from agi_app.core.flows.loader import FlowSet
from agi_app.core.flows.model import Flow
from agi_app.core.flows.transactions import TransactionRegistry
from agi_app.core.journey import CallStep, JourneySink
from agi_app.core.speech.protocol import PromptRenderer


class Router(Protocol):
    def __call__(self, bus: DataBus, requested_queue: str) -> tuple[str, int]:
        """(queue, QUEUE_PRIO) for a transfer from this caller."""
        ...


def default_router(bus: DataBus, requested_queue: str) -> tuple[str, int]:
    return requested_queue, 0


@dataclass(frozen=True)
class Preamble:
    """What operator controls set for one call before its flow: an emergency
    announcement to hear first, a flow chosen by an A/B split ("A:flow_id")."""

    announcement: Announcement | None = None
    flow_id: str | None = None
    variant: str = ""


@dataclass
class EngineDeps:
    renderer: PromptRenderer
    journey: JourneySink
    clock: Clock
    transactions: TransactionRegistry
    get_pool: Callable[[], Awaitable[Any]]
    router: Router = default_router
    priority: int = 0  # the caller's queue priority, for callbacks
    max_steps: int = 500
    wall: Callable[[], datetime] = wall_now  # journey timestamps: real time


@dataclass
class Ctx:
    """One call's walk: where it is, where it returns to, what it learned."""

    call: CallControl
    bus: DataBus
    flows: FlowSet
    deps: EngineDeps
    flow: Flow
    stack: list[tuple[str, str]] = field(default_factory=list)  # (flow id, return node)
    outcome: str = "completed"
    cause: int | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    reached_agent: bool = False
    said: list[tuple[str, bool]] = field(default_factory=list)  # for the next step
    rendered: dict[str, str] = field(default_factory=dict)  # sound -> how, if not cached

    def step(
        self,
        node_id: str,
        node_type: str,
        digits: str = "",
        at: datetime | None = None,
        **detail: Any,
    ) -> None:
        """Record a journey step (stamped now, or ``at``) with the sounds said since the last."""
        said, self.said = self.said, []
        when = at or self.deps.wall()
        if self.rendered:
            detail = {**detail, "rendered": self.rendered}
            self.rendered = {}
        self.deps.journey.emit(
            CallStep(self.call.call_id, node_id, node_type, when, digits, detail, said)
        )


# A node runner: runs one node, returns the id of the next (None: the walk ends).
Runner = Callable[[Any, str, Ctx], Awaitable[str | None]]

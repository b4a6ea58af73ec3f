"""The flow engine: one task per call walking the flow graph.

    while node_id: node_id = await RUNNERS[node.type](node, ctx)

The current node id is explicit, set on the data bus, logged, and recorded as
a journey step. A hangup surfaces as CallHangup from the call control and ends
the walk with outcome ``abandoned`` (or ``transferred`` once an agent answered).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from agi_app.callcontrol import CallControl, CallHangup
from agi_app.clock import Clock, wall_now
from agi_app.flows.bus import DataBus
from agi_app.flows.loader import FlowSet
from agi_app.flows.model import Flow
from agi_app.flows.transactions import TransactionRegistry
from agi_app.journey import CallStep, JourneySink
from agi_app.service import FlowOutcome
from agi_app.tts.protocol import PromptRenderer

log = logging.getLogger(__name__)


class Router(Protocol):
    def __call__(self, bus: DataBus, requested_queue: str) -> tuple[str, int]:
        """(queue, QUEUE_PRIO) for a transfer from this caller."""
        ...


def default_router(bus: DataBus, requested_queue: str) -> tuple[str, int]:
    return requested_queue, 0


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

    def step(self, node_id: str, node_type: str, digits: str = "", **detail: Any) -> None:
        """Record a journey step, with the sounds said since the last one."""
        said, self.said = self.said, []
        self.deps.journey.emit(
            CallStep(self.call.call_id, node_id, node_type, self.deps.wall(), digits, detail, said)
        )


Runner = Callable[[Any, str, Ctx], Awaitable[str | None]]
RUNNERS: dict[str, Runner] = {}


def runner(kind: str) -> Callable[[Runner], Runner]:
    def deco(func: Runner) -> Runner:
        RUNNERS[kind] = func
        return func

    return deco


async def run_flow(
    call: CallControl, bus: DataBus, flows: FlowSet, deps: EngineDeps
) -> FlowOutcome:
    """Walk the flow for the called number until the call ends."""
    flow = flows.for_number(bus.called)
    if flow is None:
        log.warning("call=%s no flow for number %s; refusing", call.call_id, bus.called)
        await call.hangup(1)  # unallocated number
        return FlowOutcome("failed", 1, {"reason": "no flow for number"})
    bus.flow, bus.flow_version = flow.id, flows.version
    ctx = Ctx(call, bus, flows, deps, flow)
    try:
        await call.answer()
        await _walk(ctx, flow.start)
        if ctx.cause is None:  # the walk ran out of nodes (no target for a status...)
            ctx.cause = 16
            await call.hangup(16)
    except CallHangup:
        ctx.outcome = "transferred" if ctx.reached_agent else "abandoned"
        ctx.cause = getattr(call, "hangup_cause", None)
    ctx.facts.update(flow=ctx.flow.id, flow_version=flows.version)
    return FlowOutcome(ctx.outcome, ctx.cause, ctx.facts)


async def _walk(ctx: Ctx, start: str) -> None:
    node_id: str | None = start
    steps = 0
    while node_id:
        steps += 1
        if steps > ctx.deps.max_steps:
            log.error("call=%s flow=%s exceeded %d steps", ctx.call.call_id, ctx.flow.id, steps)
            ctx.outcome, ctx.cause = "failed", 41
            await ctx.call.hangup(41)
            return
        node = ctx.flow.nodes[node_id]
        ctx.bus.node = node_id
        log.debug("call=%s flow=%s node=%s", ctx.call.call_id, ctx.flow.id, node_id)
        node_id = await RUNNERS[node.type](node, node_id, ctx)


# The node runners register themselves in RUNNERS when imported.
from agi_app.flows import nodes_io, nodes_logic  # noqa: E402,F401

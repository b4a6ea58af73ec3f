"""The flow engine: one task per call walking the flow graph.

    while node_id: node_id = await RUNNERS[node.type](node, node_id, ctx)

The runners are one explicit table (``runners.RUNNERS``).

The current node id is explicit, set on the data bus, logged, and recorded as
a journey step. A hangup surfaces as CallHangup from the call control and ends
the walk with outcome ``abandoned`` (or ``transferred`` once an agent answered).
"""

from __future__ import annotations

import logging

from agi_app.core.bus import DataBus
from agi_app.core.callcontrol import CallControl, CallHandedOff, CallHangup
from agi_app.core.decisions import FlowOutcome
from agi_app.core.flows.loader import FlowSet
from agi_app.service.flows.context import Ctx, EngineDeps, Preamble, Router, default_router
from agi_app.service.flows.runners import RUNNERS

__all__ = ["EngineDeps", "Preamble", "Router", "default_router", "run_flow"]

log = logging.getLogger(__name__)
EMERGENCY_STEP = "emergency-announcement"  # the journey step of an operator's announcement
HANDED_OFF_STEP = "handed-off"  # the app stopped mid-flow: the dialplan's fallback took the call


async def run_flow(
    call: CallControl,
    bus: DataBus,
    flows: FlowSet,
    deps: EngineDeps,
    preamble: Preamble | None = None,
) -> FlowOutcome:
    """Walk the flow for the called number (or the one ``preamble`` chose)
    until the call ends; ``preamble``'s announcement is played first."""
    chosen = flows.flows.get(preamble.flow_id) if preamble and preamble.flow_id else None
    flow = chosen or flows.for_number(bus.called)
    if flow is None:
        log.warning("call=%s no flow for number %s; refusing", call.call_id, bus.called)
        await call.hangup(1)  # unallocated number
        return FlowOutcome("failed", 1, {"reason": "no flow for number"})
    bus.flow, bus.flow_version = flow.id, flows.version
    ctx = Ctx(call, bus, flows, deps, flow)
    try:
        await call.answer()
        if preamble is not None:
            await _preamble(ctx, preamble, chosen is not None)
        await _walk(ctx, flow.start)
        if ctx.cause is None:  # the walk ran out of nodes (no target for a status...)
            ctx.cause = 16
            await call.hangup(16)
    except CallHandedOff as off:
        ctx.outcome, ctx.cause = "fallback", None
        ctx.step(HANDED_OFF_STEP, "fallback", context=off.context)
    except CallHangup:
        ctx.outcome = "transferred" if ctx.reached_agent else "abandoned"
        ctx.cause = call.hangup_cause
    ctx.facts.update(flow=ctx.flow.id, flow_version=flows.version)
    return FlowOutcome(ctx.outcome, ctx.cause, ctx.facts)


async def _preamble(ctx: Ctx, pre: Preamble, split: bool) -> None:
    """The A/B variant goes in the facts; the announcement plays before the flow."""
    if split and pre.variant:
        ctx.facts["ab_variant"] = pre.variant
    ann = pre.announcement
    if ann is None:
        return
    ctx.facts["announcement"] = ann.id
    # Its own step before the flow's first node (its name is not a node of the shipped flows).
    ctx.step(EMERGENCY_STEP, "announcement", id=ann.id, text=ann.text[:200], prompt=ann.prompt)
    if ann.prompt:
        sounds = [ann.prompt]
    else:
        sounds = [await ctx.deps.renderer.media_for(ann.text, ann.language)]
    await ctx.call.play(sounds, barge_in=False)


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

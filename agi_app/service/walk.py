"""Walking a call's flow: route the caller by grade, put the route on the data
bus, and walk the flow of the called number (the set current at the start)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from agi_app.core.bus import DataBus
from agi_app.core.callcontrol import CallControl
from agi_app.core.clock import Clock
from agi_app.core.controls import Announcement
from agi_app.core.decisions import FlowOutcome
from agi_app.core.flows.loader import FlowSet
from agi_app.core.routing.config import QueuesFile, ServicePolicy
from agi_app.core.routing.route import route
from agi_app.service.flows.engine import EngineDeps, Preamble, run_flow


class CallControls(Protocol):
    """The operator controls as a call sees them (service.controls.ControlsService)."""

    def announcement_for(self, line: str) -> Announcement | None: ...

    def flow_for(self, bus: DataBus, flows: set[str]) -> tuple[str, str] | None: ...


@dataclass(frozen=True)
class FlowWalker:
    """The ``run_flow`` step of serve_call (service.call.FlowRunner)."""

    policy: ServicePolicy
    queues: QueuesFile
    clock: Clock
    flows: Callable[[], FlowSet]  # the running set, taken once per call
    deps: EngineDeps  # router and priority are set per call
    controls: CallControls | None = None  # operator controls (announcement, A/B split)

    async def __call__(self, call: CallControl, bus: DataBus) -> FlowOutcome:
        entry = route(bus.customer, self.clock.now(), self.policy, self.queues, at_risk=bus.at_risk)
        bus.vars.update(
            skip_first_menu=entry.skip_first_menu,
            route_reason=entry.reason,
            offer_dedicated_agent=entry.offer_dedicated_agent,
        )
        if entry.language and bus.customer is None:
            bus.language = entry.language
        deps = replace(self.deps, router=self.route_transfer, priority=entry.priority)
        # The flow set is taken once: a reload never changes a call in progress.
        flows = self.flows()
        return await run_flow(call, bus, flows, deps, self._preamble(bus, flows))

    def _preamble(self, bus: DataBus, flows: FlowSet) -> Preamble | None:
        if self.controls is None:
            return None
        choice = self.controls.flow_for(bus, set(flows.flows))
        ann = self.controls.announcement_for(bus.called)
        if choice is None and ann is None:
            return None
        variant, flow_id = choice if choice else ("", None)
        return Preamble(ann, flow_id, f"{variant}:{flow_id}" if flow_id else "")

    def route_transfer(self, bus: DataBus, requested_queue: str) -> tuple[str, int]:
        """(queue, QUEUE_PRIO) for a transfer this caller's flow asks for."""
        r = route(
            bus.customer, self.clock.now(), self.policy, self.queues, requested_queue, bus.at_risk
        )
        return r.queue, r.priority

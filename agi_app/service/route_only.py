"""The route-only answer (FastAGI ``route``): the same lookup and rules as a
served call, handed to a site's own dialplan as channel variables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agi_app.core.callcontrol import CallControl
from agi_app.core.clock import Clock
from agi_app.core.flows.loader import FlowSet
from agi_app.core.routing.config import QueuesFile, ServicePolicy
from agi_app.core.routing.route import route
from agi_app.service.call import Decide, Identify, open_call


@dataclass(frozen=True)
class RouteOnly:
    identify: Identify
    decide: Decide
    policy: ServicePolicy
    queues: QueuesFile
    clock: Clock
    flows: Callable[[], FlowSet]

    async def __call__(self, call: CallControl) -> None:
        who, bus, shed = await open_call(call, self.identify, self.decide)
        entry = route(who.customer, self.clock.now(), self.policy, self.queues, at_risk=bus.at_risk)
        flow = self.flows().for_number(call.called)
        await call.set_variables(
            {
                "AGI_APP_GRADE": entry.grade,
                "AGI_APP_QUEUE": entry.queue,
                "QUEUE_PRIO": str(entry.priority),
                "AGI_APP_SHEDDING_LEVEL": str(shed.level),
                "AGI_APP_LOOKUP": who.status,
                "AGI_APP_FLOW": flow.id if flow else "",
            }
        )

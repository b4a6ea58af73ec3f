"""Assembling the running hotline from its parts (used by `agi-app run`)."""

from __future__ import annotations

import logging

from agi_app.callcontrol import CallControl
from agi_app.flows.bus import DataBus
from agi_app.runtime import Runtime
from agi_app.service import CallServices, FlowOutcome, Identity, Shedding
from agi_app.settings import Settings

log = logging.getLogger(__name__)


async def unknown_caller(raw_caller: str) -> Identity:
    return Identity(None, None, "unknown")


def no_shedding(bus: DataBus) -> Shedding:
    return Shedding()


def build_runtime(s: Settings) -> Runtime:
    """Validate configuration and assemble the runtime; raises on bad files."""
    from agi_app.first_flow import first_flow

    runtime = Runtime(s)

    async def run_flow(call: CallControl, bus: DataBus) -> FlowOutcome:
        return await first_flow(call, bus, runtime.journey, runtime.clock)

    runtime.bind(
        CallServices(
            clock=runtime.clock,
            journey=runtime.journey,
            identify=unknown_caller,
            decide=no_shedding,
            run_flow=run_flow,
        )
    )
    return runtime

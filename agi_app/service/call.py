"""What happens to every call, whichever way it arrives (ARI or FastAGI).

identify the caller -> decide the shedding level -> walk the flow -> journey.
The steps are protocols so the same code serves both call-control paths and
tests can give in-memory parts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from agi_app.core.bus import DataBus
from agi_app.core.callcontrol import CallControl, CallHandedOff, CallHangup
from agi_app.core.clock import Clock, wall_now
from agi_app.core.decisions import FlowOutcome, Identity, Shedding
from agi_app.core.journey import CallEnd, CallStart, JourneySink
from agi_app.core.metrics import METRICS

log = logging.getLogger(__name__)


class Identify(Protocol):
    async def __call__(self, raw_caller: str) -> Identity: ...


class Decide(Protocol):
    def __call__(self, bus: DataBus) -> Shedding: ...


class FlowRunner(Protocol):
    async def __call__(self, call: CallControl, bus: DataBus) -> FlowOutcome: ...


@dataclass
class CallServices:
    clock: Clock
    journey: JourneySink
    identify: Identify
    decide: Decide
    run_flow: FlowRunner
    default_language: str = "zh"
    wall: Callable[[], datetime] = wall_now  # journey timestamps: real time
    log_calls: bool = False  # one INFO line per call (the journey records it all anyway)


async def open_call(
    call: CallControl, identify: Identify, decide: Decide, default_language: str = "zh"
) -> tuple[Identity, DataBus, Shedding]:
    """Who is calling, the call's data bus, and the shedding level: the first
    steps of every call, whether it walks a flow or only asks for a route."""
    t0 = time.perf_counter()
    who = await identify(call.caller)
    METRICS.observe("lookup_ms", (time.perf_counter() - t0) * 1000)
    bus = DataBus(
        call_id=call.call_id,
        caller=call.caller,
        called=call.called,
        caller_e164=who.e164,
        customer=who.customer,
        lookup=who.status,
        language=(who.customer.language if who.customer else None) or default_language,
    )
    if who.risk is not None:
        bus.risk, bus.risk_reasons, bus.at_risk = who.risk.score, who.risk.reasons, who.risk.at_risk
    shed = decide(bus)
    bus.shedding_level, bus.shedding_actions, bus.shedding_rule = (
        shed.level,
        shed.actions,
        shed.rule,
    )
    return who, bus, shed


async def serve_call(call: CallControl, via: str, svc: CallServices) -> FlowOutcome:
    """Serve one call from arrival to hang-up; never raises for a caller's doing."""
    svc.journey.emit(CallStart(call.call_id, call.caller, call.called, via, svc.wall()))
    who, bus, shed = await open_call(call, svc.identify, svc.decide, svc.default_language)
    log.log(
        logging.INFO if svc.log_calls else logging.DEBUG,
        "call=%s via=%s caller=%s called=%s grade=%s lookup=%s shedding=%d(%s)",
        call.call_id,
        via,
        who.e164 or "-",
        call.called,
        bus.grade,
        who.status,
        shed.level,
        shed.rule or "-",
    )
    try:
        result = await svc.run_flow(call, bus)
    except CallHandedOff:
        result = FlowOutcome("fallback", None)
    except CallHangup:
        result = FlowOutcome("abandoned", call.hangup_cause)
    except Exception as exc:  # a bug must still leave a finished journey behind
        svc.journey.emit(
            CallEnd(
                call.call_id,
                svc.wall(),
                "failed",
                41,
                {"lookup": who.status, "error": type(exc).__name__},
            )
        )
        raise
    facts = {
        "flow": bus.flow,
        "flow_version": bus.flow_version,
        "caller_e164": who.e164,
        "grade": bus.grade if who.customer else None,
        "lookup": who.status,
        "shedding_level": shed.level,
        "shedding_rule": shed.rule or None,
        "risk": bus.risk,
        "risk_reasons": list(bus.risk_reasons) if bus.risk is not None else None,
        **result.facts,
    }
    svc.journey.emit(CallEnd(call.call_id, svc.wall(), result.outcome, result.cause, facts))
    return result

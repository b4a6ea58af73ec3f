"""The walking skeleton's flow, in code: greeting, one digit, announcement.

answer -> greeting (barge-in) -> wait 5 s for a digit; on 1 the announcement
and hang-up with cause 16 (normal clearing); on a timeout or another digit
retry twice more, then hang up with cause 31 (normal, unspecified).
"""

from __future__ import annotations

from agi_app.callcontrol import CallControl
from agi_app.clock import Clock
from agi_app.flows.bus import DataBus
from agi_app.journey import CallStep, JourneySink
from agi_app.service import FlowOutcome

GREETING = "hello-world"
ANNOUNCEMENT = "beep"


async def first_flow(
    call: CallControl, bus: DataBus, journey: JourneySink, clock: Clock
) -> FlowOutcome:
    bus.flow, bus.flow_version = "first", "code"

    def step(node: str, kind: str, digits: str = "", **detail: object) -> None:
        bus.node = node
        journey.emit(CallStep(call.call_id, node, kind, clock.now(), digits, dict(detail)))

    await call.answer()
    for attempt in range(1, 4):
        step("greeting", "menu", attempt=attempt)
        await call.play([GREETING], barge_in=True)
        digit = await call.digits.next(5.0)
        if digit == "1":
            step("announcement", "play", digits="1")
            await call.play([ANNOUNCEMENT], barge_in=False)
            step("bye", "hangup", cause=16)
            await call.hangup(16)
            return FlowOutcome("completed", 16)
        step("greeting", "menu", digits=digit or "", result="invalid" if digit else "timeout")
    step("giveup", "hangup", cause=31)
    await call.hangup(31)
    return FlowOutcome("timeout", 31)

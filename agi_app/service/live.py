"""Calls in progress, by line and by node, from the journey events (a sink):
what the console's Now page shows. No I/O; ``emit`` never blocks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agi_app.core.journey import CallEnd, CallStart, CallStep, JourneyEvent

MAX_TRACKED = 20_000  # a bound, should ends ever go missing


@dataclass
class LiveCall:
    line: str
    started_at: datetime
    node: str = ""


class LiveCalls:
    """A journey sink that keeps the calls between their start and their end."""

    def __init__(self) -> None:
        self.calls: dict[str, LiveCall] = {}
        self.changes = 0  # bumped on every event, so a watcher can tell

    def emit(self, event: JourneyEvent) -> None:
        if isinstance(event, CallStart):
            if len(self.calls) < MAX_TRACKED:
                self.calls[event.call_id] = LiveCall(event.called, event.started_at)
        elif isinstance(event, CallStep):
            call = self.calls.get(event.call_id)
            if call is not None:
                call.node = event.node
        elif isinstance(event, CallEnd):
            self.calls.pop(event.call_id, None)
        self.changes += 1

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """Counts by line and by node, and the calls themselves (oldest first)."""
        calls = sorted(self.calls.items(), key=lambda kv: kv[1].started_at)
        return {
            "total": len(calls),
            "by_line": dict(Counter(c.line for _, c in calls)),
            "by_node": dict(Counter(f"{c.line}/{c.node or '-'}" for _, c in calls)),
            "calls": [
                {
                    "id": cid,
                    "line": c.line,
                    "node": c.node,
                    "seconds": max(0, int((now - c.started_at).total_seconds())),
                }
                for cid, c in calls[:200]
            ],
        }

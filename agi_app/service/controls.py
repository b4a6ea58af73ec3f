"""The operator controls applied to calls, and the changes operators make.

The running app keeps the controls in memory (``current``), refreshed from the
store about every second by ``run``: a call never waits on a query for them.
A change (console or CLI) is validated by core.controls, written with its
audit line by the store, and read back at once.

Expiry is real time (an announcement "for 30 minutes" means 30 minutes of the
wall clock, whatever the QA business clock says).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from agi_app.core.bus import DataBus
from agi_app.core.clock import wall_now
from agi_app.core.controls import (
    AB_SPLIT,
    ANNOUNCEMENT,
    ESCALATION,
    MANUAL_RULE,
    AbSplit,
    Announcement,
    Controls,
    announcement_body,
    escalation_body,
    split_body,
    validate_announcement,
    validate_escalation,
    validate_split,
)
from agi_app.core.decisions import Shedding
from agi_app.core.speech.protocol import PromptRenderer

log = logging.getLogger(__name__)


class ControlStore(Protocol):
    async def load(self) -> Controls: ...

    async def put(
        self, kind: str, scope: str, body: dict[str, Any], expires_at: datetime | None, who: str
    ) -> dict[str, Any] | None: ...

    async def clear(self, kind: str, scope: str, who: str) -> dict[str, Any] | None: ...

    async def audit(self, limit: int = 50) -> list[dict[str, Any]]: ...


class Decide(Protocol):
    def __call__(self, bus: DataBus) -> Shedding: ...


@dataclass
class ControlsService:
    """Reads and changes the controls; decides what they mean for one call."""

    store: ControlStore
    levels: dict[int, list[str]]  # shedding level -> actions (config/shedding.yaml)
    renderer: PromptRenderer | None = None  # renders an announcement's text when it is set
    refresh_s: float = 1.0
    wall: Callable[[], datetime] = wall_now
    current: Controls = field(default_factory=Controls)
    version: int = 0  # bumped whenever the controls read differ (for the console)

    # -- the running app ------------------------------------------------------

    async def refresh(self) -> Controls:
        fresh = await self.store.load()
        if fresh != self.current:
            self.current = fresh
            self.version += 1
        return fresh

    async def run(self) -> None:
        """Background loop: keep ``current`` within about a second of the store."""
        failing = False
        while True:
            try:
                await self.refresh()
                failing = False
            except Exception as exc:  # the database may be down: keep serving
                if not failing:  # once per outage, not every second
                    log.warning("controls: cannot read the store (%s); keeping the last", exc)
                failing = True
            await asyncio.sleep(self.refresh_s)

    def active(self) -> Controls:
        return self.current.at(self.wall())

    def decide_with(self, base: Decide) -> Decide:
        """``base`` (the shedding service) with a forced level on top of it:
        every caller not exempt gets that level and rule ``manual``."""

        def decide(bus: DataBus) -> Shedding:
            shed = base(bus)
            esc = self.current.forced_level(self.wall())
            if esc is None or shed.rule == "exempt":
                return shed
            return Shedding(esc.level, frozenset(self.levels.get(esc.level, ())), MANUAL_RULE)

        return decide

    def announcement_for(self, line: str) -> Announcement | None:
        return self.current.announcement_for(line, self.wall())

    def flow_for(self, bus: DataBus, flows: set[str]) -> tuple[str, str] | None:
        """(variant, flow id) when the called line is split and both flows exist."""
        split = self.current.splits.get(bus.called)
        if split is None or not {split.flow_a, split.flow_b} <= flows:
            return None
        return split.variant(bus.caller_e164 or bus.caller)

    # -- operators' changes ---------------------------------------------------

    async def set_announcement(
        self, body: dict[str, Any], who: str, known_lines: set[str]
    ) -> Announcement:
        ann = validate_announcement(body, self.wall(), known_lines, secrets.token_hex(4))
        if ann.text and self.renderer is not None:
            await self.renderer.media_for(ann.text, ann.language)  # at once, not on a call
        await self.store.put(ANNOUNCEMENT, "", announcement_body(ann), ann.expires_at, who)
        await self.refresh()
        return ann

    async def force_level(self, body: dict[str, Any], who: str) -> dict[str, Any]:
        esc = validate_escalation(body, self.wall())
        await self.store.put(ESCALATION, "", escalation_body(esc), esc.until, who)
        await self.refresh()
        return escalation_body(esc)

    async def set_split(
        self, body: dict[str, Any], who: str, known_lines: set[str], flows: set[str]
    ) -> AbSplit:
        split = validate_split(body, known_lines, flows)
        await self.store.put(AB_SPLIT, split.line, split_body(split), None, who)
        await self.refresh()
        return split

    async def clear(self, kind: str, who: str, scope: str = "") -> dict[str, Any] | None:
        """End a control (announcement, escalation, or a line's split)."""
        before = await self.store.clear(kind, scope, who)
        await self.refresh()
        return before


__all__ = ["AB_SPLIT", "ANNOUNCEMENT", "ESCALATION", "ControlsService"]

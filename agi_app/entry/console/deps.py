"""What the console reads and changes (built by wiring), and its key on the app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from agi_app.core.decisions import Shedding
from agi_app.core.flows.loader import FlowSet
from agi_app.core.shedding.load import QueueLoad
from agi_app.core.shedding.rules import SheddingRules
from agi_app.entry.console.auth import Sessions
from agi_app.service.controls import ControlsService
from agi_app.service.live import LiveCalls

Reload = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class ConsoleDeps:
    """What the console reads and changes; built by wiring."""

    token: str
    controls: ControlsService
    flows: Callable[[], FlowSet]
    live: LiveCalls
    queues: Callable[[], dict[str, QueueLoad]]
    shedding: Callable[[], Shedding]  # what a standard caller gets now
    get_pool: Callable[[], Awaitable[Any]]
    reload: Reload
    rules: SheddingRules
    timezone: str
    sounds_dir: Path
    now: Callable[[], datetime]  # real time in the hotline's zone (journeys' days)
    sessions: Sessions = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = Sessions(self.token)

    def lines(self) -> set[str]:
        return set(self.flows().by_number)


DEPS_KEY = web.AppKey("console", ConsoleDeps)

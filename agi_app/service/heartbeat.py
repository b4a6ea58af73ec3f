"""The node's heartbeat: what it is doing, written every ``interval_s`` for the others.

The ``nodes`` table (``NodeStore``) then says which nodes are up, which flow
version each runs, its calls in progress, whether its ARI is connected and
whether it leads the callback worker (``agi-app cluster status``). A graceful
stop marks the node down at once; a node that dies just stops beating.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from agi_app.core.cluster import NodeRow, NodeStatus

log = logging.getLogger(__name__)


class NodeStore(Protocol):
    """Errors: ``ConnectionError`` when the database fails or cannot be reached."""

    async def beat(self, status: NodeStatus) -> None: ...

    async def stopped(self, node: str, instance: str) -> None: ...

    async def nodes(self) -> tuple[list[NodeRow], datetime]: ...

    async def others_up(self, node: str, within_s: float) -> bool: ...


class Heartbeat:
    def __init__(
        self, store: NodeStore, status: Callable[[], NodeStatus], interval_s: float = 2.0
    ) -> None:
        self.store, self.status, self.interval_s = store, status, interval_s
        self.beats = 0
        self.failing = False

    async def beat(self) -> None:
        await self.store.beat(self.status())
        self.beats += 1

    async def run(self) -> None:
        """Background loop: beat every ``interval_s``; a database outage is logged once."""
        while True:
            try:
                await self.beat()
                if self.failing:
                    log.info("heartbeat: written again")
                self.failing = False
            except ConnectionError as exc:
                if not self.failing:
                    log.warning("heartbeat: cannot write it (%s); retrying", exc)
                self.failing = True
            await asyncio.sleep(self.interval_s)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        """A graceful stop: say so, so the others see this node down at once."""
        st = self.status()
        try:
            async with asyncio.timeout(2):
                await self.store.stopped(st.node, st.instance)
        except (ConnectionError, TimeoutError) as exc:
            log.warning("heartbeat: could not mark the node stopped (%s)", exc)

"""Settings every node applies: a flow reload, the QA business clock, the QA
shedding level.

A change made on one node (its admin endpoint, or a command that goes
through it) is applied there at once and shared through the store with a new
generation; every other node applies it when woken (LISTEN/NOTIFY) or at the
latest at its next poll (``poll_s``). Per key only the latest change counts,
so a node that missed several applies just the last.

Start-up: a node that joins a running cluster takes its clock and shedding
level; one that starts alone (or was told a business clock at start) shares
its own, so an old run's setting never comes back. Flows are loaded from
files at start in any case; only later reloads are shared.

A change and its local application hold one lock, so a change from another
node read just before can never be applied over a newer local one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from agi_app.core.clock import BusinessClock
from agi_app.core.cluster import (
    CLOCK,
    FLOWS,
    SHEDDING,
    UP_WITHIN_S,
    Shared,
    shedding_level,
)
from agi_app.service.heartbeat import NodeStore
from agi_app.service.shedding import SheddingOverride

log = logging.getLogger(__name__)

Reload = Callable[[], Awaitable[dict[str, Any]]]


class SharedStore(Protocol):
    """Errors: ``ConnectionError`` when the database fails or cannot be reached."""

    async def publish(self, key: str, body: dict[str, Any], origin: str, node: str) -> int: ...

    async def load(self) -> list[Shared]: ...


class ClusterSync:
    def __init__(
        self,
        store: SharedStore,
        nodes: NodeStore,
        *,
        node: str,
        instance: str,
        reload: Reload,
        clock: BusinessClock,
        shedding: SheddingOverride,
        clock_from_start: bool = False,  # a business clock was set at start
        poll_s: float = 2.0,
    ) -> None:
        self.store, self.nodes = store, nodes
        self.node, self.instance = node, instance
        self._reload, self.clock, self.shedding = reload, clock, shedding
        self.clock_from_start = clock_from_start
        self.poll_s = poll_s
        self.seen: dict[str, int] = {}  # key -> the generation this node runs
        self.joined = False
        self.applied = 0  # changes from other nodes applied
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    # -- changes made here ----------------------------------------------------

    async def reload_flows(self) -> dict[str, Any]:
        """Reload here; if the new set is valid, every node reloads too."""
        async with self._lock:
            result = await self._reload()
            if result.get("ok"):
                result.update(await self._share(FLOWS, {"version": result["version"]}))
            return result

    async def set_clock(self, when: datetime | None) -> dict[str, Any]:
        """Act as if it were ``when`` (None: real time) here and on every node."""
        async with self._lock:
            self.clock.set(when)
            return await self._share(CLOCK, self._clock_body())

    async def set_shedding(self, level: int | None) -> dict[str, Any]:
        """Force ``level`` (None: the rules decide) here and on every node."""
        async with self._lock:
            self.shedding.level = level
            log.warning("shedding override: %s", "off" if level is None else f"level {level}")
            return await self._share(SHEDDING, {"level": level})

    async def _share(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            generation = await self.store.publish(key, body, self.instance, self.node)
        except ConnectionError as exc:
            log.warning("cluster: %s applied on this node only: %s", key, exc)
            return {"cluster": False, "cluster_error": str(exc)}
        self.seen[key] = max(generation, self.seen.get(key, 0))
        return {"cluster": True, "generation": generation}

    def _clock_body(self) -> dict[str, Any]:
        offset = self.clock.offset
        return {
            "offset_s": None if offset is None else offset.total_seconds(),
            "now": self.clock.now().isoformat() if offset is not None else None,
        }

    # -- changes made elsewhere -----------------------------------------------

    def wake(self) -> None:
        """A notification came: read the store now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Background loop: join, then apply what other nodes change."""
        failing = False
        while True:
            self._wake.clear()
            try:
                if not self.joined:
                    await self.join()
                await self.sync()
                failing = False
            except ConnectionError as exc:
                if not failing:
                    log.warning("cluster: cannot read the shared settings (%s); retrying", exc)
                failing = True
            try:
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def join(self) -> None:
        """Take the running cluster's clock and shedding level, or share ours."""
        async with self._lock:
            rows = {r.key: r for r in await self.store.load()}
            others = await self.nodes.others_up(self.node, UP_WITHIN_S)
            for row in rows.values():
                self.seen[row.key] = row.generation
            if others and not self.clock_from_start and CLOCK in rows:
                self._apply_clock(rows[CLOCK])
            else:
                await self._share(CLOCK, self._clock_body())
            if others and SHEDDING in rows:
                self._apply_shedding(rows[SHEDDING])
            else:
                await self._share(SHEDDING, {"level": self.shedding.level})
            self.joined = True
            log.info(
                "cluster: node %s %s", self.node, "joined running nodes" if others else "alone"
            )

    async def sync(self) -> None:
        """Apply every shared setting newer than what this node runs."""
        rows = await self.store.load()
        for row in sorted(rows, key=lambda r: r.generation):
            if row.generation <= self.seen.get(row.key, 0):
                continue
            async with self._lock:
                if row.generation <= self.seen.get(row.key, 0):
                    continue  # a change made here meanwhile is newer
                self.seen[row.key] = row.generation
                if row.origin != self.instance:  # our own changes are applied already
                    await self._apply(row)
                    self.applied += 1

    async def _apply(self, row: Shared) -> None:
        log.info("cluster: applying %s generation %d from %s", row.key, row.generation, row.node)
        if row.key == FLOWS:
            result = await self._reload()
            if not result.get("ok"):
                log.error("cluster: reload asked by %s refused here", row.node)
        elif row.key == CLOCK:
            self._apply_clock(row)
        elif row.key == SHEDDING:
            self._apply_shedding(row)

    def _apply_clock(self, row: Shared) -> None:
        offset = row.body.get("offset_s")
        try:
            self.clock.set_offset(None if offset is None else timedelta(seconds=float(offset)))
        except (TypeError, ValueError, OverflowError) as exc:  # not this node's to apply
            log.error("cluster: clock from %s ignored: %s", row.node, exc)

    def _apply_shedding(self, row: Shared) -> None:
        try:
            self.shedding.level = shedding_level(row.body)
        except ValueError as exc:
            log.error("cluster: shedding from %s ignored: %s", row.node, exc)
            return
        level = self.shedding.level
        log.warning("shedding override: %s", "off" if level is None else f"level {level}")

    def stats(self) -> dict[str, Any]:
        return {"generations": dict(self.seen), "joined": self.joined, "applied": self.applied}

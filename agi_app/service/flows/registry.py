"""The running flow set and its hot reload.

``reload()`` loads and validates a new set; an invalid one is refused and the
running set stays. Calls hold a reference to the set they started with, so a
reload never changes a call in progress. Each set has a version id (a hash of
the files) that every journey records. Reading and validating the YAML runs
in a worker thread, so a reload never stalls the calls on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from agi_app.core.flows.loader import FlowError, FlowSet, Known, load_flowset

log = logging.getLogger(__name__)


class FlowLoadError(RuntimeError):
    def __init__(self, errors: list[FlowError]) -> None:
        super().__init__("invalid flows:\n  " + "\n  ".join(str(e) for e in errors))
        self.errors = errors


class FlowRegistry:
    def __init__(self, directory: Path, known: Known) -> None:
        self.directory = directory
        self.known = known
        flows, errors = load_flowset([directory], known)
        if flows is None:
            raise FlowLoadError(errors)
        self.current: FlowSet = flows
        log.info("flows loaded: %s (version %s)", ", ".join(flows.flows), flows.version)

    async def reload(self) -> dict[str, Any]:
        """Swap in a new valid set, or keep the running one and say why not."""
        flows, errors = await asyncio.to_thread(load_flowset, [self.directory], self.known)
        if flows is None:
            log.error(
                "flow reload refused; keeping version %s:\n  %s",
                self.current.version,
                "\n  ".join(str(e) for e in errors),
            )
            return {
                "ok": False,
                "version": self.current.version,
                "errors": [str(e) for e in errors],
            }
        old, self.current = self.current.version, flows
        log.info("flows reloaded: version %s -> %s", old, flows.version)
        return {"ok": True, "version": flows.version, "previous": old}

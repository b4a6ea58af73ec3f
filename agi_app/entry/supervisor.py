"""Supervised background loops: a loop that dies is logged and restarted.

The hotline's background loops (ARI event stream, journey writer, load monitor,
callback worker) run forever. Without supervision an exception they did not
catch ended them silently and the app served half a hotline. Here each loop
runs in a keeper task that logs the exception with its traceback, counts the
restart, waits (capped exponential backoff, reset after a run that lasted)
and starts the loop again. A loop that dies ``max_failures`` times within
``window_s`` is given up on: ``failed`` is set, and the app stops with a
non-zero exit so that `make run` says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agi_app.core.metrics import METRICS

log = logging.getLogger(__name__)

LoopFactory = Callable[[], Awaitable[object]]


@dataclass
class Supervisor:
    """Keeps named background loops running."""

    backoff_first_s: float = 0.2
    backoff_max_s: float = 10.0
    stable_s: float = 30.0  # a run this long resets the backoff
    max_failures: int = 5
    window_s: float = 60.0
    restarts: dict[str, int] = field(default_factory=dict)
    failed: asyncio.Event = field(default_factory=asyncio.Event)
    failed_loop: str | None = None
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def start(self, name: str, factory: LoopFactory) -> None:
        """Run ``factory()`` now and again whenever it dies."""
        if name in self._tasks:
            raise ValueError(f"a background loop named {name!r} is already supervised")
        self.restarts[name] = 0
        self._tasks[name] = asyncio.create_task(self._keep(name, factory), name=f"loop-{name}")

    async def _keep(self, name: str, factory: LoopFactory) -> None:
        loop = asyncio.get_running_loop()
        failures: deque[float] = deque()
        delay = self.backoff_first_s
        while True:
            began = loop.time()
            try:
                await factory()
                log.error("background loop %s returned; restarting it", name)
            except asyncio.CancelledError:
                raise
            except Exception:  # the boundary of one loop: log, restart
                log.exception("background loop %s died", name)
            now = loop.time()
            failures.append(now)
            while failures and failures[0] < now - self.window_s:
                failures.popleft()
            if len(failures) >= self.max_failures:
                log.critical(
                    "background loop %s died %d times within %.0f s; giving up",
                    name,
                    len(failures),
                    self.window_s,
                )
                self.failed_loop = name
                self.failed.set()
                return
            if now - began >= self.stable_s:
                delay = self.backoff_first_s
            self.restarts[name] += 1
            METRICS.count("loop_restarts")
            METRICS.count(f"loop_restarts_{name}")
            log.warning("restarting background loop %s in %.1f s", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max_s)

    async def stop(self) -> None:
        """Cancel every loop and wait for them to end."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

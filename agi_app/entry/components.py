"""The runtime's own components beside the adapters: the admin HTTP server,
and what is closed only at the very end (used by entry.wiring)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from agi_app.adapters.ari.rest import AriRest
from agi_app.adapters.postgres.pool import Database


@dataclass(frozen=True)
class AdminServer:
    """The admin HTTP endpoint as a component."""

    app: web.Application
    host: str
    port: int
    runner: list[web.AppRunner]  # set at start

    async def start(self) -> None:
        runner = web.AppRunner(self.app)
        await runner.setup()
        await web.TCPSite(runner, self.host, self.port).start()
        self.runner.append(runner)

    async def stop(self) -> None:
        for runner in self.runner:
            await runner.cleanup()


@dataclass(frozen=True)
class Resources:
    """What is only closed at the end: HTTP sessions, the pool, TTS workers."""

    rest: AriRest
    dbs: tuple[Database, ...]
    close_tts: Callable[[], None]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.rest.close()
        for db in self.dbs:
            await db.close()
        self.close_tts()

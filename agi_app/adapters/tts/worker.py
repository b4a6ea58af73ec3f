"""pyttsx3 in a long-lived worker process (spawned), driven from asyncio.

One render at a time goes through the pipe. The event loop never blocks on
it: replies are awaited with ``add_reader`` on the pipe. A worker that hangs
past ``timeout_s`` is killed; one that dies is noticed by end-of-file on the
pipe. Either way the request fails with EngineError (the cache then uses the
espeak-ng command line) and the next request starts a fresh worker. A worker
that cannot even start (pyttsx3 or libespeak-ng missing) is not retried for
``rest_s``, so calls do not pay a failed start each time.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import time
from importlib.metadata import PackageNotFoundError, version
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from agi_app.adapters.tts.engines import check_output, espeak_version
from agi_app.adapters.tts.voices import Voice
from agi_app.adapters.tts.worker_child import worker_main
from agi_app.core.speech.errors import EngineError

log = logging.getLogger(__name__)


def _pyttsx3_version() -> str:
    try:
        return version("pyttsx3")
    except PackageNotFoundError:
        return "missing"


def _set_once(fut: asyncio.Future[None]) -> None:
    if not fut.done():  # the reader fires on every loop turn while readable
        fut.set_result(None)


async def _recv(conn: Connection) -> Any:
    """The next message on ``conn``, waiting in the event loop, not in a thread."""
    loop = asyncio.get_running_loop()
    fd = conn.fileno()
    while not conn.poll():  # poll() without a timeout does not block
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, _set_once, readable)
        try:
            await readable
        finally:
            loop.remove_reader(fd)
    return conn.recv()  # a small message written at once: does not block


class Pyttsx3Worker:
    """The default engine: pyttsx3 (espeak driver) in a worker process.

    The worker is spawned, so like any spawning program the main script must
    guard its entry point with ``if __name__ == "__main__":`` (the spawned
    interpreter imports it; ``agi-app`` and pytest do so already).
    """

    def __init__(
        self, timeout_s: float = 10, start_timeout_s: float = 30, rest_s: float = 30
    ) -> None:
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.rest_s = rest_s
        self._ident = f"pyttsx3-{_pyttsx3_version()}-espeak-ng-{espeak_version()}"
        self._ctx = mp.get_context("spawn")  # no fork: the parent runs threads and a loop
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._seq = 0
        self._lock = asyncio.Lock()
        self._rest_until = 0.0
        self.in_flight = False  # a request is with the worker (sent, not answered)
        self.starts = 0  # worker processes started, for tests and metrics
        self.kills = 0  # workers killed after a hang or found dead

    @property
    def ident(self) -> str:
        return self._ident

    @property
    def pid(self) -> int | None:
        """The worker's process id, None when none is running."""
        return self._proc.pid if self._proc is not None else None

    async def render(self, text: str, voice: Voice, out: Path) -> None:
        """Render through the worker, starting one if needed; EngineError on failure."""
        async with self._lock:
            conn = await self._running()
            self._seq += 1
            seq = self._seq
            try:
                conn.send((seq, text, voice.name, voice.rate, voice.volume, str(out)))
                self.in_flight = True
                async with asyncio.timeout(self.timeout_s):
                    error = await self._reply(conn, seq)
            except TimeoutError as exc:
                await self._kill("hung")
                raise EngineError(f"pyttsx3 worker hung over {self.timeout_s} s") from exc
            except (EOFError, OSError) as exc:
                await self._kill("died")
                raise EngineError("pyttsx3 worker died") from exc
            finally:
                self.in_flight = False
        if error is not None:
            raise EngineError(f"pyttsx3: {error}")
        check_output(out, "pyttsx3")

    async def _reply(self, conn: Connection, seq: int) -> str | None:
        # Replies to requests whose caller was cancelled may still be queued.
        while True:
            got, error = await _recv(conn)
            if got == seq:
                return error  # type: ignore[no-any-return]

    async def _running(self) -> Connection:
        """The pipe to a ready worker, started (and warmed up) if needed."""
        if self._proc is not None and not self._proc.is_alive():
            await self._kill("found dead")
        if self._proc is None:
            if time.monotonic() < self._rest_until:
                raise EngineError("pyttsx3 worker failed to start recently; not retrying yet")
            try:
                self._start()
            except (OSError, RuntimeError) as exc:  # no processes left, unguarded __main__
                self._rest_until = time.monotonic() + self.rest_s
                raise EngineError(f"cannot start the pyttsx3 worker: {exc}") from exc
        assert self._conn is not None
        if not self._ready:
            try:
                async with asyncio.timeout(self.start_timeout_s):
                    await self._reply(self._conn, 0)
            except (TimeoutError, EOFError, OSError) as exc:
                await self._kill("failed to start")
                self._rest_until = time.monotonic() + self.rest_s
                raise EngineError("pyttsx3 worker failed to start") from exc
            self._ready = True
        return self._conn

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=worker_main, args=(child,), name="agi-app-tts", daemon=True)
        proc.start()
        child.close()  # the child holds the only other end: its death reads as EOF
        self._proc, self._conn, self._ready = proc, parent, False
        self.starts += 1
        log.debug("TTS worker started (pid %s)", proc.pid)

    async def _kill(self, why: str) -> None:
        proc, conn = self._proc, self._conn
        self._proc, self._conn, self._ready = None, None, False
        self.kills += 1
        if proc is None:
            return
        log.warning("TTS worker (pid %s) %s: killing it", proc.pid, why)
        proc.kill()
        if conn is not None:
            conn.close()
        await asyncio.to_thread(proc.join, 5)  # reap it without blocking the loop

    def close(self) -> None:
        """Stop the worker (at shutdown)."""
        proc, conn = self._proc, self._conn
        self._proc, self._conn, self._ready = None, None, False
        if conn is not None:
            conn.close()  # the worker reads EOF and exits
        if proc is not None:
            proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join(2)

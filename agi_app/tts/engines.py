"""TTS engines: pyttsx3 in a worker process (default) and the espeak-ng CLI.

pyttsx3 used naively is unreliable (field notes): the first call returns
before writing, property changes cancel the next utterance, a hang blocks
forever, and it prints to stdout. The worker process keeps one engine, warms
it up, calls espeak's Synchronize() after setting properties, waits for the
``finished-utterance`` callback and checks the file. It is killed and
restarted on a timeout; the caller then falls back to the espeak-ng CLI,
which is the same synthesiser.

Errors: EngineError (a render failed; try the fallback).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import subprocess
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol


class EngineError(RuntimeError):
    """A render failed or timed out."""


@dataclass(frozen=True)
class Voice:
    name: str  # espeak voice, e.g. cmn-latn-pinyin
    rate: int  # words per minute
    volume: float  # 0..1


class Engine(Protocol):
    ident: str  # goes into the cache key

    async def render(self, text: str, voice: Voice, out: Path) -> None:
        """Write a 22050 Hz mono 16-bit wav of ``text`` to ``out``."""
        ...


def espeak_version() -> str:
    try:
        out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except OSError:
        return "missing"
    parts = out.split()
    return parts[3] if len(parts) > 3 else "unknown"


class EspeakCli:
    """espeak-ng command line, text on stdin."""

    def __init__(self) -> None:
        self.ident = f"espeak-ng-{espeak_version()}"

    async def render(self, text: str, voice: Voice, out: Path) -> None:
        proc = await asyncio.create_subprocess_exec(
            "espeak-ng", "--stdin", "-v", voice.name, "-s", str(voice.rate),
            "-a", str(int(voice.volume * 100)), "-w", str(out),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        try:
            async with asyncio.timeout(20):
                _, err = await proc.communicate(text.encode())
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise EngineError("espeak-ng timed out") from exc
        if proc.returncode != 0 or not out.exists() or out.stat().st_size <= 44:
            raise EngineError(f"espeak-ng failed: {err.decode(errors='replace')[:200]}")


def _worker_main(conn: Connection) -> None:  # runs in the child process
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the driver prints "Audio saved to ..."
    import pyttsx3
    from pyttsx3.drivers import _espeak

    engine = pyttsx3.init("espeak")
    driver = engine.proxy._driver
    finished: dict[str, bool] = {}
    engine.connect("finished-utterance",
                   lambda name=None, completed=True: finished.update(ok=completed))
    current: tuple[str, int, float] | None = None

    def speak(text: str, path: str) -> bool:
        finished.clear()
        engine.save_to_file(text, path)
        engine.runAndWait()
        # The driver re-speaks its last text on every later runAndWait: forget it.
        driver._text_to_say = None
        driver._save_file = None
        return bool(finished.get("ok")) and os.path.exists(path) and os.path.getsize(path) > 44

    speak("warm up", "/tmp/agi-app-tts-warmup.wav")  # the first call returns before writing
    while True:
        try:
            req = conn.recv()
        except EOFError:
            return
        text, voice, rate, volume, path = req
        if current != (voice, rate, volume):
            # Straight to the driver (no queued command, no runAndWait), then let
            # espeak settle: else the change cancels the next utterance.
            driver.setProperty("voice", voice)
            driver.setProperty("rate", rate)
            driver.setProperty("volume", volume)
            _espeak.Synchronize()
            current = (voice, rate, volume)
        ok = speak(text, path) or speak(text, path)
        conn.send(ok)


class Pyttsx3Worker:
    """pyttsx3 in a long-lived child process; one render at a time."""

    def __init__(self, timeout_s: float = 10) -> None:
        import pyttsx3

        self.ident = f"pyttsx3-{getattr(pyttsx3, '__version__', '2.99')}-espeak-{espeak_version()}"
        self.timeout_s = timeout_s
        self._ctx = mp.get_context("spawn")
        self._proc: Any = None
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_worker_main, args=(child,), daemon=True,
                                       name="agi-app-tts")
        self._proc.start()
        child.close()
        self._conn = parent

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(timeout=5)
            self._proc.close()
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    async def render(self, text: str, voice: Voice, out: Path) -> None:
        async with self._lock:
            if self._proc is None or not self._proc.is_alive():
                if self._proc is not None:
                    self.restarts += 1
                    self.stop()
                self._start()
            assert self._conn is not None
            conn = self._conn
            try:
                conn.send((text, voice.name, voice.rate, voice.volume, str(out)))
                ready = await asyncio.to_thread(conn.poll, self.timeout_s)
                ok = bool(conn.recv()) if ready else False
            except (EOFError, OSError, BrokenPipeError) as exc:
                self.stop()
                raise EngineError(f"pyttsx3 worker died: {exc}") from exc
            if not ready:
                self.stop()  # hung: kill it; the next render starts a fresh worker
                raise EngineError("pyttsx3 worker timed out")
            if not ok:
                raise EngineError("pyttsx3 did not write the file")

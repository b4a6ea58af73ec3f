"""The engine protocol and the espeak-ng command-line engine.

An engine turns text into a 22050 Hz mono 16-bit wav. Two exist: pyttsx3 in a
worker process (``agi_app.adapters.tts.worker``, the default) and the espeak-ng command
line here, which is the same synthesiser and the fallback when the worker fails.
Both are asynchronous: rendering never runs in the event loop.
"""

from __future__ import annotations

import asyncio
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from agi_app.adapters.tts.voices import Voice
from agi_app.core.speech.errors import EngineError

MIN_WAV_BYTES = 45  # a wav header is 44 bytes: anything more holds samples


class Engine(Protocol):
    """A TTS backend. ``ident`` (name and version) goes into the cache key."""

    @property
    def ident(self) -> str: ...

    async def render(self, text: str, voice: Voice, out: Path) -> None:
        """Write a wav of ``text`` to ``out``; raise EngineError on failure."""
        ...

    def close(self) -> None:
        """Release processes or other resources; the engine may not be used after."""
        ...


@lru_cache(maxsize=1)
def espeak_version() -> str:
    """The espeak-ng version (``1.51``), ``missing`` if it is not installed."""
    try:
        out = subprocess.run(
            ["espeak-ng", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    # "eSpeak NG text-to-speech: 1.51  Data at: ..."
    parts = out.split()
    return parts[3] if len(parts) > 3 else "unknown"


def check_output(out: Path, what: str) -> None:
    """Raise EngineError unless ``out`` exists and holds samples."""
    try:
        size = out.stat().st_size
    except OSError as exc:
        raise EngineError(f"{what} wrote no file") from exc
    if size < MIN_WAV_BYTES:
        raise EngineError(f"{what} wrote an empty file")


class EspeakCli:
    """The espeak-ng command line: text on stdin, ``-w file``."""

    def __init__(self, timeout_s: float = 20) -> None:
        self.timeout_s = timeout_s
        self._ident = f"espeak-ng-{espeak_version()}"

    @property
    def ident(self) -> str:
        return self._ident

    async def render(self, text: str, voice: Voice, out: Path) -> None:
        """Run espeak-ng once; killed if it outlives ``timeout_s``."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *("espeak-ng", "--stdin", "-v", voice.name, "-s", str(voice.rate)),
                *("-a", str(round(voice.volume * 100)), "-w", str(out)),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise EngineError(f"cannot run espeak-ng: {exc}") from exc
        try:
            async with asyncio.timeout(self.timeout_s):
                _, err = await proc.communicate(text.encode())
        except TimeoutError as exc:
            raise EngineError(f"espeak-ng took over {self.timeout_s} s") from exc
        finally:
            if proc.returncode is None:  # timed out or cancelled: do not leave it running
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            raise EngineError(f"espeak-ng exited {proc.returncode}: {err.decode(errors='replace')}")
        check_output(out, "espeak-ng")

    def close(self) -> None:
        """Nothing to release: each render is its own process."""

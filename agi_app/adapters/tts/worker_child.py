"""The pyttsx3 worker process: one engine, rendering requests from a pipe.

pyttsx3 2.99 used naively is unreliable (field notes). Its espeak driver
synthesises in espeak's own thread, so ``runAndWait`` returns before the file
is written (always on the first call); a property change queued through the
engine cancels the next utterance; the driver remembers its last text and
speaks it again on the next ``runAndWait``; and it prints "Audio saved to ..."
on stdout. What makes it reliable, and is done here: one engine per process,
a warm-up render, properties set on the driver followed by espeak's
``Synchronize()``, waiting for the ``finished-utterance`` callback, forgetting
the last text, and checking that the file exists and holds samples.

Protocol on the pipe: the worker sends ``(0, None)`` when ready; each request
``(seq, text, voice, rate, volume, path)`` is answered ``(seq, None)`` on
success or ``(seq, "reason")``. Kept free of asyncio and of the rest of the
package: this module is what the spawned interpreter imports.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from multiprocessing.connection import Connection
from typing import Any

MIN_WAV_BYTES = 45
FINISH_WAIT_S = 60.0  # the parent kills us long before; this only bounds a lost callback


class _Speaker:
    """One pyttsx3 engine (espeak driver) and the recipe that makes it reliable."""

    def __init__(self) -> None:
        import pyttsx3
        from pyttsx3.drivers import _espeak

        self._espeak: Any = _espeak
        self._engine: Any = pyttsx3.init("espeak")
        self._driver: Any = self._engine.proxy._driver
        self._done = threading.Event()
        self._completed = False
        self._engine.connect("finished-utterance", self._on_finished)
        self._voice: tuple[str, int, float] | None = None

    def _on_finished(self, name: object = None, completed: bool = True) -> None:
        # Called from espeak's synthesis thread.
        self._completed = completed
        self._done.set()

    def set_voice(self, voice: str, rate: int, volume: float) -> None:
        """Set properties on the driver itself (not queued), then let espeak settle."""
        if self._voice == (voice, rate, volume):
            return
        self._voice = None  # if the voice is unknown, the next request tries again
        self._driver.setProperty("voice", voice)
        self._driver.setProperty("rate", rate)
        self._driver.setProperty("volume", volume)
        self._espeak.Synchronize()
        self._voice = (voice, rate, volume)

    def _speak_once(self, text: str, path: str) -> bool:
        self._done.clear()
        self._completed = False
        self._engine.save_to_file(text, path)
        self._engine.runAndWait()
        finished = self._done.wait(FINISH_WAIT_S)
        # Else the driver speaks this text again on the next runAndWait.
        self._driver._text_to_say = None
        self._driver._save_file = None
        return finished and self._completed and _has_samples(path)

    def speak(self, text: str, path: str) -> None:
        """Write ``text`` to the wav ``path``; one retry, then RuntimeError."""
        if not (self._speak_once(text, path) or self._speak_once(text, path)):
            raise RuntimeError("pyttsx3 finished without writing the file")

    def warm_up(self) -> None:
        """The first render of a process returns before writing: do it here."""
        tmp = tempfile.mkdtemp(prefix="agi-app-tts-warmup-")
        try:
            self._speak_once("warm up", os.path.join(tmp, "warmup.wav"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _has_samples(path: str) -> bool:
    try:
        return os.path.getsize(path) >= MIN_WAV_BYTES
    except OSError:
        return False


def _silence_stdout() -> None:
    """The driver prints on every save: keep it out of the parent's stdout."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def worker_main(conn: Connection) -> None:
    """Entry point of the worker process: serve requests until the pipe closes."""
    _silence_stdout()
    speaker = _Speaker()
    speaker.warm_up()
    conn.send((0, None))
    while True:
        try:
            seq, text, voice, rate, volume, path = conn.recv()
        except EOFError:
            return  # the parent closed the pipe or died
        try:
            speaker.set_voice(voice, rate, volume)
            speaker.speak(text, path)
            conn.send((seq, None))
        except Exception as exc:  # report any failure; the parent decides what to do
            conn.send((seq, f"{type(exc).__name__}: {exc}"))

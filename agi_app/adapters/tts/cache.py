"""The prompt cache: rendered audio under ``<sounds_dir>/cache/<lang>/``.

A prompt's file name is a hash of (engine name and version, voice, rate,
volume, normalised text): changing any of them renders anew. ``sounds_dir`` is
mounted at ``<Asterisk sounds>/agi_app``, so the sound name Asterisk plays is
``agi_app/cache/<lang>/<hash>``.

Static prompts (those of the flows, rendered ahead by ``agi-app prompts
render``) live in ``cache/<lang>/`` and stay. Anything first rendered at call
time (filled templates, composed menus) is dynamic: it goes to
``cache/<lang>/dyn/``, its mtime is refreshed when it is played, and
``evict_dynamic`` removes it once unused for a given age.

Concurrent requests for one prompt render it once. A hit costs a dict lookup
and a ``stat`` (the stat catches a cache folder removed under a running app).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tempfile
import time
import unicodedata
import wave
from collections.abc import Mapping
from pathlib import Path

from agi_app.adapters.tts.audio import G711, convert_for_asterisk
from agi_app.adapters.tts.engines import Engine
from agi_app.adapters.tts.voices import DEFAULT_VOICES, Voice
from agi_app.core.metrics import METRICS
from agi_app.core.speech.errors import EngineError, PromptError, VoiceError
from agi_app.core.speech.protocol import CACHED, Prompted

log = logging.getLogger(__name__)

SOUND_PREFIX = "agi_app"  # where sounds_dir is mounted under Asterisk's sounds
DYNAMIC = "dyn"
TOUCH_AFTER_S = 60.0  # refresh a dynamic prompt's mtime at most this often
TMP_MIN_AGE_S = 600.0  # temp files younger than this may be a write in progress
COMPANIONS = (".sln16", *G711)  # the files beside each prompt's .wav


def normalise(text: str) -> str:
    """The text as keyed and spoken: NFKC (full-width forms folded), spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def prompt_key(engine_ident: str, voice: Voice, text: str) -> str:
    """The cache file name of ``text`` (already normalised) for this engine and voice."""
    raw = f"{engine_ident}|{voice.name}|{voice.rate}|{voice.volume}|{text}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


class PromptCache:
    """Implements ``PromptRenderer``: text and language to an Asterisk sound name.

    ``primary`` renders; ``fallback`` (if any) renders when it fails. The key
    uses the primary's identity: the fallback is the same synthesiser.
    """

    def __init__(
        self,
        sounds_dir: Path,
        primary: Engine,
        fallback: Engine | None = None,
        voices: Mapping[str, Voice] | None = None,
    ) -> None:
        self.sounds_dir = sounds_dir
        self.root = sounds_dir / "cache"
        self.primary = primary
        self.fallback = fallback
        self.voices = dict(DEFAULT_VOICES if voices is None else voices)
        self._static: dict[tuple[str, str], tuple[str, str]] = {}  # -> (name, wav path)
        self._inflight: dict[Path, asyncio.Task[str]] = {}
        self.renders = 0  # prompts rendered by this cache
        self.fallbacks = 0  # of which by the fallback engine

    def voice_for(self, language: str) -> Voice:
        """The voice of ``language``; VoiceError if there is none."""
        voice = self.voices.get(language)
        if voice is None:
            have = ", ".join(sorted(self.voices))
            raise VoiceError(f"no voice for language {language!r} (have: {have})")
        return voice

    async def media_for(self, text: str, language: str) -> str:
        """The sound name for ``text``; rendered now (as dynamic) if not cached."""
        name, _ = await self._media(text, language, dynamic=True)
        return name

    async def prompt(self, text: str, language: str) -> Prompted:
        """``media_for``, with the engine that rendered it now (or CACHED)."""
        name, source = await self._media(text, language, dynamic=True)
        return Prompted(name, source)

    async def prerender(self, text: str, language: str) -> tuple[str, bool]:
        """Make ``text`` a static prompt; (sound name, whether it was rendered now)."""
        name, source = await self._media(text, language, dynamic=False)
        return name, source != CACHED

    async def _media(self, text: str, language: str, dynamic: bool) -> tuple[str, str]:
        """(sound name, CACHED or the ident of the engine that rendered it now)."""
        known = self._static.get((language, text))
        if known is not None and os.path.exists(known[1]):
            return known[0], CACHED
        voice = self.voice_for(language)
        spoken = normalise(text)
        if not spoken:
            raise PromptError("empty prompt text")
        key = prompt_key(self.primary.ident, voice, spoken)
        static = self.root / language / key
        if static.with_suffix(".wav").exists() or (not dynamic and self._promote(language, key)):
            return self._remember(language, text, key), CACHED
        if dynamic and _touch(self.root / language / DYNAMIC / f"{key}.wav"):
            return _name(language, key, dynamic=True), CACHED
        base = self.root / language / DYNAMIC / key if dynamic else static
        source = await self._render_once(base, spoken, voice)
        if dynamic:
            return _name(language, key, dynamic=True), source
        return self._remember(language, text, key), source

    def _remember(self, language: str, text: str, key: str) -> str:
        name = _name(language, key, dynamic=False)
        wav = self.root / language / f"{key}.wav"
        self._static[(language, text)] = (name, str(wav))
        return name

    def _promote(self, language: str, key: str) -> bool:
        """Move a dynamic copy into the static folder; False if there is none."""
        src, dst = self.root / language / DYNAMIC / key, self.root / language / key
        try:
            for suffix in COMPANIONS:
                with contextlib.suppress(FileNotFoundError):  # older caches lack G.711
                    os.replace(src.with_suffix(suffix), dst.with_suffix(suffix))
            os.replace(src.with_suffix(".wav"), dst.with_suffix(".wav"))  # the presence mark
        except FileNotFoundError:
            return False  # none, or evicted meanwhile: render it
        return True

    async def _render_once(self, base: Path, text: str, voice: Voice) -> str:
        """Render ``base`` (once for concurrent requests); the engine that did."""
        task = self._inflight.get(base)
        if task is None:
            task = asyncio.create_task(self._render(base, text, voice))
            self._inflight[base] = task
            task.add_done_callback(lambda t: self._finished(base, t))
        # A cancelled caller must not cancel the render others are waiting for.
        return await asyncio.shield(task)

    def _finished(self, base: Path, task: asyncio.Task[str]) -> None:
        self._inflight.pop(base, None)
        if not task.cancelled() and task.exception() is not None:
            log.debug("render of %s failed: %s", base.name, task.exception())

    async def _render(self, base: Path, text: str, voice: Voice) -> str:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="agi-app-tts-") as tmp:
            raw = Path(tmp) / "raw.wav"
            source = await self._synthesise(text, voice, raw)
            try:
                seconds = await asyncio.to_thread(convert_for_asterisk, raw, base)
            except (wave.Error, ValueError, OSError) as exc:
                raise EngineError(f"cannot write audio for Asterisk: {exc}") from exc
        self.renders += 1
        ms = (time.perf_counter() - t0) * 1000
        METRICS.observe("tts_render_ms", ms)
        log.debug("rendered %s (%.1f s of audio) in %.0f ms", base.name, seconds, ms)
        return source

    async def _synthesise(self, text: str, voice: Voice, raw: Path) -> str:
        """Render with the primary, or the fallback when it fails; the one that did."""
        try:
            await self.primary.render(text, voice, raw)
            return self.primary.ident
        except EngineError as exc:
            if self.fallback is None:
                raise
            log.warning(
                "TTS %s failed (%s); using %s", self.primary.ident, exc, self.fallback.ident
            )
            self.fallbacks += 1
            METRICS.count("tts_fallbacks")
            await self.fallback.render(text, voice, raw)
            return self.fallback.ident

    def evict_dynamic(self, max_age_s: float) -> int:
        """Remove dynamic prompts unused for ``max_age_s`` seconds; return how many."""
        return evict_dynamic(self.sounds_dir, max_age_s)

    def close(self) -> None:
        """Stop the engines' worker processes."""
        for engine in (self.primary, self.fallback):
            if engine is not None:
                engine.close()


def _name(language: str, key: str, dynamic: bool) -> str:
    folder = f"{language}/{DYNAMIC}" if dynamic else language
    return f"{SOUND_PREFIX}/cache/{folder}/{key}"


def _touch(wav: Path) -> bool:
    """True if ``wav`` exists; its mtime refreshed when older than TOUCH_AFTER_S
    (unless the folder is read-only or full: the prompt still plays)."""
    try:
        mtime = wav.stat().st_mtime
    except FileNotFoundError:
        return False
    if time.time() - mtime > TOUCH_AFTER_S:
        try:
            os.utime(wav)
        except FileNotFoundError:
            return False  # evicted between stat and utime
        except OSError as exc:  # read-only or full: eviction may take it early, no more
            log.debug("cannot refresh %s: %s", wav.name, exc)
    return True


def evict_dynamic(sounds_dir: Path, max_age_s: float, now: float | None = None) -> int:
    """Remove dynamic prompts under ``sounds_dir/cache`` unused for ``max_age_s``.

    Also removes temp files older than that (left by a crash mid-write).
    Returns the number of prompts removed.
    """
    now_s = time.time() if now is None else now
    cutoff = now_s - max_age_s
    removed = 0
    root = sounds_dir / "cache"
    for path in [*root.glob(f"*/{DYNAMIC}/*"), *root.glob("*/.tmp-*")]:
        try:
            if path.stat().st_mtime >= cutoff:
                continue
            if path.name.startswith(".tmp-"):
                if path.stat().st_mtime < min(cutoff, now_s - TMP_MIN_AGE_S):
                    path.unlink()  # a crash mid-write left it; younger ones may be in use
            elif path.suffix == ".wav":  # its mtime says when the prompt was last used
                path.unlink()
                for suffix in COMPANIONS:
                    path.with_suffix(suffix).unlink(missing_ok=True)
                removed += 1
            elif not path.with_suffix(".wav").exists():  # a companion whose .wav is gone
                path.unlink()
        except FileNotFoundError:
            continue  # removed meanwhile (another evict, or a promotion)
    return removed

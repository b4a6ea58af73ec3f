"""The prompt cache: rendered audio under ``sounds/cache/<lang>/``.

The key is a hash of (engine, voice, rate, volume, normalised text), so a
change of any of them renders anew. Concurrent requests for one key render
once. Prompts filled from call data at call time are "dynamic" and live under
``dyn/`` where ``evict_dynamic`` removes them by age.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import time
import unicodedata
from pathlib import Path

from agi_app.metrics import METRICS
from agi_app.tts.audio import convert_for_asterisk
from agi_app.tts.engines import Engine, EngineError, Voice

log = logging.getLogger(__name__)

VOICES = {
    "zh": Voice("cmn-latn-pinyin", 165, 0.9),
    "en": Voice("en-us", 165, 0.9),
}
SOUND_PREFIX = "agi_app"  # sounds_dir is mounted at <asterisk sounds>/agi_app


class VoiceError(ValueError):
    """No voice for this language."""


def check_voice(language: str) -> None:
    """Raise VoiceError for a language we cannot speak (flows check uses it)."""
    if language not in VOICES:
        raise VoiceError(f"no voice for language {language!r} (have: {', '.join(VOICES)})")


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


class PromptCache:
    """Implements PromptRenderer: text -> Asterisk sound name."""

    def __init__(self, sounds_dir: Path, primary: Engine, fallback: Engine | None = None) -> None:
        self.root = sounds_dir / "cache"
        self.primary = primary
        self.fallback = fallback
        self._pending: dict[str, asyncio.Future[str]] = {}
        self._known: dict[tuple[str, str, bool], str] = {}
        self.renders = 0
        self.fallbacks = 0

    def key(self, text: str, language: str) -> str:
        check_voice(language)
        v = VOICES[language]
        raw = f"{self.primary.ident}|{v.name}|{v.rate}|{v.volume}|{normalise(text)}"
        return hashlib.sha256(raw.encode()).hexdigest()[:24]

    def path_for(self, key: str, language: str, dynamic: bool) -> Path:
        return self.root / language / ("dyn" if dynamic else "") / key

    async def media_for(self, text: str, language: str, dynamic: bool = False) -> str:
        known = self._known.get((text, language, dynamic))
        if known is not None:
            return known  # hot path: no hashing, no stat
        key = self.key(text, language)
        base = self.path_for(key, language, dynamic)
        name = f"{SOUND_PREFIX}/{base.relative_to(self.root.parent)}"
        if not base.with_suffix(".wav").exists():
            fut = self._pending.get(key)
            if fut is None:
                fut = asyncio.get_running_loop().create_future()
                self._pending[key] = fut
                try:
                    await self._render(text, language, base)
                    fut.set_result(name)
                except BaseException as exc:
                    fut.set_exception(exc)
                    raise
                finally:
                    del self._pending[key]
            else:
                await fut
        elif dynamic:
            base.with_suffix(".wav").touch()  # keep it alive for eviction by age
        if not dynamic:
            self._known[(text, language, dynamic)] = name
        return name

    async def _render(self, text: str, language: str, base: Path) -> None:
        voice = VOICES[language]
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="agi-app-tts-") as tmp:
            raw = Path(tmp) / "raw.wav"
            try:
                await self.primary.render(text, voice, raw)
            except EngineError as exc:
                if self.fallback is None:
                    raise
                log.warning("TTS %s failed (%s); using %s", self.primary.ident, exc,
                            self.fallback.ident)
                self.fallbacks += 1
                await self.fallback.render(text, voice, raw)
            await asyncio.to_thread(convert_for_asterisk, raw, base)
        self.renders += 1
        METRICS.observe("tts_render_ms", (time.perf_counter() - t0) * 1000)

    def close(self) -> None:
        """Stop worker processes of the engines."""
        for engine in (self.primary, self.fallback):
            stop = getattr(engine, "stop", None)
            if stop is not None:
                stop()

    def evict_dynamic(self, max_age_s: float) -> int:
        """Remove dynamic prompts unused for ``max_age_s``; return how many."""
        cutoff, removed = time.time() - max_age_s, 0
        for wav in self.root.glob("*/dyn/*.wav"):
            if wav.stat().st_mtime < cutoff:
                wav.unlink(missing_ok=True)
                wav.with_suffix(".sln16").unlink(missing_ok=True)
                removed += 1
        return removed

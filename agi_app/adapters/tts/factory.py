"""The configured prompt cache: pyttsx3 worker first, espeak-ng CLI as fallback."""

from __future__ import annotations

from agi_app.adapters.tts.cache import PromptCache
from agi_app.adapters.tts.engines import EspeakCli
from agi_app.adapters.tts.static import StaticFallback
from agi_app.adapters.tts.voices import CONFIG_FILE, load_voices
from agi_app.adapters.tts.worker import Pyttsx3Worker
from agi_app.settings import Settings


def build_cache(s: Settings) -> PromptCache:
    """The app's PromptRenderer. No process starts until the first render."""
    voices = load_voices(s.config_dir / CONFIG_FILE)
    return PromptCache(s.sounds_dir, Pyttsx3Worker(), EspeakCli(), voices=voices)


def call_renderer(cache: PromptCache) -> StaticFallback:
    """What calls render through: the cache, with a static prompt when it fails."""
    return StaticFallback(cache)

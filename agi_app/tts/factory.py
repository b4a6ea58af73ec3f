"""The configured prompt cache: pyttsx3 worker first, espeak-ng CLI as fallback."""

from __future__ import annotations

from agi_app.settings import Settings
from agi_app.tts.cache import PromptCache
from agi_app.tts.engines import EspeakCli, Pyttsx3Worker


def build_cache(s: Settings) -> PromptCache:
    return PromptCache(s.sounds_dir, Pyttsx3Worker(), EspeakCli())

"""The configured prompt cache: pyttsx3 worker first, espeak-ng CLI as fallback."""

from __future__ import annotations

from agi_app.settings import Settings
from agi_app.tts.cache import PromptCache
from agi_app.tts.engines import EspeakCli
from agi_app.tts.voices import CONFIG_FILE, load_voices
from agi_app.tts.worker import Pyttsx3Worker


def build_cache(s: Settings) -> PromptCache:
    """The app's PromptRenderer. No process starts until the first render."""
    voices = load_voices(s.config_dir / CONFIG_FILE)
    return PromptCache(s.sounds_dir, Pyttsx3Worker(), EspeakCli(), voices=voices)

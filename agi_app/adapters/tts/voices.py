"""Voices per language, and the check ``flows check`` runs on them.

The defaults follow the field notes: Mandarin needs ``cmn-latn-pinyin``
(``cmn``/``zh`` read Chinese characters as English words). A deployment may
override them in ``config/tts.yaml``::

    voices:
      zh: {voice: cmn-latn-pinyin, rate: 180, volume: 0.9}
      en: {voice: en-us, rate: 165, volume: 1.0}
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agi_app.core.config import ConfigError, load_yaml
from agi_app.core.speech.errors import VoiceError

CONFIG_FILE = "tts.yaml"


@dataclass(frozen=True)
class Voice:
    """How one language is spoken: espeak voice, words per minute, volume 0..1."""

    name: str
    rate: int
    volume: float


# Mandarin a little faster (at 165 wpm a 17-character greeting took 5.5 s) and
# a little quieter (its peaks reach 0 dBFS; English peaks near -3.5 dBFS).
DEFAULT_VOICES: Mapping[str, Voice] = {
    "zh": Voice("cmn-latn-pinyin", 180, 0.9),
    "en": Voice("en-us", 165, 1.0),
}


class _VoiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    voice: str
    rate: int = Field(ge=80, le=450)  # espeak-ng's own limits
    volume: float = Field(gt=0, le=2)


class _TtsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    voices: dict[str, _VoiceConfig]


def load_voices(path: Path) -> dict[str, Voice]:
    """The voices of ``path`` (a tts.yaml) over the defaults; defaults if absent."""
    voices = dict(DEFAULT_VOICES)
    if not path.exists():
        return voices
    try:
        config = load_yaml(path, _TtsConfig)
    except ConfigError as exc:  # flows check and set-up report voice problems as such
        raise VoiceError(str(exc)) from exc
    for lang, v in config.voices.items():
        voices[lang] = Voice(v.voice, v.rate, v.volume)
    return voices


@lru_cache(maxsize=1)
def installed_voices() -> frozenset[str]:
    """Voice names espeak-ng knows (``espeak-ng --voices``); empty if it is missing."""
    try:
        out = subprocess.run(
            ["espeak-ng", "--voices"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    names = set()
    for line in out.splitlines()[1:]:  # header: Pty Language Age/Gender VoiceName File ...
        cols = line.split()
        if len(cols) >= 5:
            names.add(cols[1].lower())  # the language name is what -v accepts
            names.add(cols[4].lower())  # so is the file, e.g. sit/cmn-Latn-pinyin
    return frozenset(names)


def check_voice(language: str, voices: Mapping[str, Voice] | None = None) -> None:
    """Raise VoiceError unless ``language`` has a voice and espeak-ng has that voice.

    ``voices`` defaults to :data:`DEFAULT_VOICES`; pass ``load_voices(...)`` to
    check a deployment's configuration.
    """
    voices = DEFAULT_VOICES if voices is None else voices
    voice = voices.get(language)
    if voice is None:
        have = ", ".join(sorted(voices))
        raise VoiceError(f"no voice for language {language!r} (have: {have})")
    installed = installed_voices()
    if not installed:
        raise VoiceError("espeak-ng is not installed (apt-get install espeak-ng)")
    if voice.name.lower() not in installed:
        raise VoiceError(f"espeak-ng has no voice {voice.name!r} for language {language!r}")


def speakable_languages(config_dir: Path) -> tuple[str, ...]:
    """Languages with a configured voice that espeak-ng really has."""
    voices = load_voices(config_dir / CONFIG_FILE)
    usable = []
    for lang in voices:
        try:
            check_voice(lang, voices)
        except VoiceError:
            continue
        usable.append(lang)
    return tuple(usable)

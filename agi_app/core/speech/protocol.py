"""The prompt renderer protocol the flow engine uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

CACHED = "cache"  # a Prompted's source: the audio was there already
STATIC = "static"  # rendering failed: a fixed prompt of the dialplan's plays instead
# What the app ever asks Asterisk to play: ``agi_app/cache/zh/3f2a...``,
# ``agi_app/static/fallback_menu``, ``agi_app/announcements/<hex>``. Nothing
# that could end an AGI command (space, quote, line break), add a second sound
# to an ARI play (comma) or leave the sounds folder (``..``).
SOUND_NAME = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*")


def check_sound(name: str) -> str:
    """``name`` if it is a sound name the app plays; ValueError otherwise."""
    if SOUND_NAME.fullmatch(name) is None:
        raise ValueError(f"not a sound name: {name[:80]!r}")
    return name


@dataclass(frozen=True)
class Prompted:
    """What a call will hear for one prompt, and how it was made: ``source`` is
    CACHED, the name and version of the engine that rendered it just now (the
    fallback engine's when the primary failed), or STATIC."""

    sound: str
    source: str


class PromptRenderer(Protocol):
    async def media_for(self, text: str, language: str) -> str:
        """Render (or find cached) audio for ``text``; return the Asterisk sound
        name: a path relative to Asterisk's sounds directory, no extension,
        e.g. ``agi_app/cache/zh/3f2a...``."""
        ...

    async def prompt(self, text: str, language: str) -> Prompted:
        """Like ``media_for``, and say how the sound was made (for the journey)."""
        ...

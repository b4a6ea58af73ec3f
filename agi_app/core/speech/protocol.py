"""The prompt renderer protocol the flow engine uses."""

from __future__ import annotations

from typing import Protocol


class PromptRenderer(Protocol):
    async def media_for(self, text: str, language: str) -> str:
        """Render (or find cached) audio for ``text``; return the Asterisk sound
        name: a path relative to Asterisk's sounds directory, no extension,
        e.g. ``agi_app/cache/zh/3f2a...``."""
        ...

"""Prompts with fixed names, rendered at set-up (``agi-app prompts render``):
the ones the dialplan plays without the app (the static fallback menu, the
native benchmark IVR), and the one a call hears when its prompt cannot be
rendered (``StaticFallback``: engines down, the cache folder read-only)."""

from __future__ import annotations

import logging
from pathlib import Path

from agi_app.adapters.tts.audio import atomic_write, ensure_dir
from agi_app.adapters.tts.cache import COMPANIONS, SOUND_PREFIX, PromptCache
from agi_app.core.metrics import METRICS
from agi_app.core.speech.errors import TtsError
from agi_app.core.speech.protocol import STATIC as STATIC_SOURCE
from agi_app.core.speech.protocol import Prompted

log = logging.getLogger(__name__)

# Said instead of a prompt that cannot be rendered, by language (zh otherwise).
UNAVAILABLE = {"zh": "prompt_unavailable", "en": "prompt_unavailable_en"}

STATIC = {
    "prompt_unavailable": ("抱歉，该信息暂时无法播报。", "zh"),
    "prompt_unavailable_en": ("Sorry, this information cannot be played right now.", "en"),
    "fallback_menu": ("您好，系统繁忙。人工服务请按零，或请稍候，正在为您转接。", "zh"),
    # The native IVR plays exactly what the demo flow (flows/demo_ivr.yaml) plays.
    "bench_greeting": ("您好，这里是演示热线。收听公告请按一。", "zh"),
    "bench_announcement": ("感谢您的来电，再见。", "zh"),
}


async def render_static(cache: PromptCache, sounds_dir: Path) -> list[str]:
    """Render the static prompts to ``sounds/static/<name>.{sln16,ulaw,alaw,wav}``."""
    target = sounds_dir / "static"
    ensure_dir(target)
    for name, (text, lang) in STATIC.items():
        media, _ = await cache.prerender(text, lang)
        src = sounds_dir / media.removeprefix(f"{SOUND_PREFIX}/")
        for ext in (*COMPANIONS, ".wav"):
            # Through a temp file and rename: Asterisk may be playing the old one.
            with src.with_suffix(ext).open("rb") as fh:
                data = fh.read()
            atomic_write(target / f"{name}{ext}", data, None)
    return list(STATIC)


def static_sound(name: str) -> str:
    """The Asterisk sound name of a static prompt."""
    return f"{SOUND_PREFIX}/static/{name}"


class StaticFallback:
    """The flow engine's PromptRenderer: the cache, and when a prompt cannot be
    rendered at all (every engine failed, or its folder cannot be written) a
    static prompt saying so, so the call goes on instead of failing. Counted
    (``tts_static_fallbacks``) and logged; the journey step says STATIC."""

    def __init__(self, cache: PromptCache) -> None:
        self.cache = cache
        self.static_fallbacks = 0

    async def media_for(self, text: str, language: str) -> str:
        return (await self.prompt(text, language)).sound

    async def prompt(self, text: str, language: str) -> Prompted:
        try:
            return await self.cache.prompt(text, language)
        except (TtsError, OSError) as exc:
            self.static_fallbacks += 1
            METRICS.count("tts_static_fallbacks")
            name = UNAVAILABLE.get(language, UNAVAILABLE["zh"])
            log.warning(
                "prompt %r (%s) not rendered (%s): playing %s", text[:40], language, exc, name
            )
            return Prompted(static_sound(name), STATIC_SOURCE)

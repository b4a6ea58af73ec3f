"""Prompts with fixed names that the dialplan plays without the app
(the static fallback menu, the native benchmark IVR)."""

from __future__ import annotations

from pathlib import Path

from agi_app.adapters.tts.audio import atomic_write, ensure_dir
from agi_app.adapters.tts.cache import COMPANIONS, SOUND_PREFIX, PromptCache

STATIC = {
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

"""Prompts with fixed names that the dialplan plays without the app
(the static fallback menu, the native benchmark IVR)."""

from __future__ import annotations

import shutil
from pathlib import Path

from agi_app.tts.cache import PromptCache

STATIC = {
    "fallback_menu": ("您好，系统繁忙。人工服务请按零，或请稍候，正在为您转接。", "zh"),
    # The native IVR plays exactly what the demo flow (flows/demo_ivr.yaml) plays.
    "bench_greeting": ("您好，这里是演示热线。收听公告请按一。", "zh"),
    "bench_announcement": ("感谢您的来电，再见。", "zh"),
}


async def render_static(cache: PromptCache, sounds_dir: Path) -> list[str]:
    """Render the static prompts to sounds/static/<name>.{wav,sln16}."""
    target = sounds_dir / "static"
    target.mkdir(parents=True, exist_ok=True)
    done = []
    for name, (text, lang) in STATIC.items():
        media = await cache.media_for(text, lang)
        src = sounds_dir / media.split("/", 1)[1]
        for ext in (".wav", ".sln16"):
            shutil.copyfile(src.with_suffix(ext), target / f"{name}{ext}")
            (target / f"{name}{ext}").chmod(0o644)
        done.append(name)
    return done

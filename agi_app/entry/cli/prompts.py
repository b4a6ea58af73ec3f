"""`agi-app prompts render|say|evict`: the TTS prompt cache."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from agi_app.entry.cli.errors import error
from agi_app.settings import Settings, get_settings


def register(sub: Any) -> None:
    """Add the ``prompts`` command and its sub-commands."""
    p: argparse.ArgumentParser = sub.add_parser("prompts", help="render and manage TTS prompts")
    ps = p.add_subparsers(dest="prompts_cmd", required=True)
    r = ps.add_parser("render", help="render every static prompt of every flow (cached: skipped)")
    r.add_argument("--flows", type=Path, help="flows folder (default: settings.flows_dir)")
    s = ps.add_parser("say", help="render one prompt and print the path of its .wav")
    s.add_argument("text")
    s.add_argument("--lang", default="zh", help="language (default zh)")
    e = ps.add_parser("evict", help="remove dynamic prompts unused for --max-age seconds")
    e.add_argument("--max-age", type=float, default=86400, help="seconds (default 86400)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run one ``prompts`` sub-command."""
    from agi_app.adapters.tts.cache import evict_dynamic

    s = get_settings()
    if args.prompts_cmd == "evict":
        # No engine needed: nothing is rendered.
        print(f"evicted {evict_dynamic(s.sounds_dir, args.max_age)} dynamic prompt(s)")
        return 0
    return asyncio.run(_render(args, s))


async def _render(args: argparse.Namespace, s: Settings) -> int:
    from agi_app.adapters.tts.factory import build_cache
    from agi_app.core.speech.errors import TtsError

    cache = build_cache(s)
    try:
        if args.prompts_cmd == "say":
            media, _ = await cache.prerender(args.text, args.lang)
            print(s.sounds_dir / f"{media.split('/', 1)[1]}.wav")
            return 0
        return await _render_flows(cache, args.flows or s.flows_dir, s.sounds_dir)
    except TtsError as exc:
        error(str(exc))
        return 1
    finally:
        cache.close()


async def _render_flows(cache: Any, flows_dir: Path, sounds_dir: Path) -> int:
    from agi_app.adapters.tts.audio import backfill_g711
    from agi_app.adapters.tts.flowscan import iter_prompts
    from agi_app.adapters.tts.static import render_static
    from agi_app.core.speech.errors import TtsError

    items = list(iter_prompts(flows_dir))
    t0, failed = time.perf_counter(), 0
    if (sounds_dir / "cache").is_dir() and (added := backfill_g711(sounds_dir / "cache")):
        print(f"added G.711 (.ulaw, .alaw) files to {added} cached prompt(s)", flush=True)
    for n, (text, lang) in enumerate(items, 1):
        try:
            _, rendered = await cache.prerender(text, lang)
            state = "rendered" if rendered else "cached"
        except TtsError as exc:
            failed += 1
            state = f"FAILED ({exc})"
        print(f"[{n}/{len(items)}] {state} {lang} {_short(text)}", flush=True)
    static = await render_static(cache, sounds_dir)
    print(
        f"done in {time.perf_counter() - t0:.1f} s: {len(items)} flow prompts and "
        f"{len(static)} static ({', '.join(static)}), {cache.renders} rendered, {failed} failed"
    )
    return 1 if failed else 0


def _short(text: str, width: int = 30) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."

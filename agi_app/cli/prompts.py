"""`agi-app prompts render|say|evict`: the TTS prompt cache."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from agi_app.settings import get_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("prompts", help="render and manage TTS prompts")
    ps = p.add_subparsers(dest="prompts_cmd", required=True)
    r = ps.add_parser("render", help="render every static prompt of every flow (cached: skipped)")
    r.add_argument("--flows", type=Path, help="flows folder (default flows/)")
    s = ps.add_parser("say", help="render one prompt and print its sound name")
    s.add_argument("text")
    s.add_argument("--lang", default="zh", choices=["zh", "en"])
    e = ps.add_parser("evict", help="remove dynamic prompts older than --max-age seconds")
    e.add_argument("--max-age", type=float, default=86400)
    p.set_defaults(handler=lambda a: asyncio.run(_run(a)))


def flow_prompts(flows_dir: Path) -> list[tuple[str, str]]:
    """(text, language) of every non-template prompt in the flows, in order, unique."""
    from agi_app.cli.flows import known_for_check
    from agi_app.flows.loader import load_flowset
    from agi_app.flows.model import prompts_of
    from agi_app.tts.say import is_template

    flows, errors = load_flowset([flows_dir], known_for_check())
    if flows is None:
        raise SystemExit("flows have errors; run `agi-app flows check`")
    seen: dict[tuple[str, str], None] = {}
    for flow in flows.flows.values():
        for node in flow.nodes.values():
            for _fld, prompt in prompts_of(node):
                texts = prompt.items() if isinstance(prompt, dict) else [(flow.language, prompt)]
                for lang, text in texts:
                    if not is_template(text):
                        seen[(text, lang)] = None
    return list(seen)


async def _run(args: argparse.Namespace) -> int:
    from agi_app.tts.factory import build_cache
    from agi_app.tts.static import render_static

    s = get_settings()
    cache = build_cache(s)
    try:
        if args.prompts_cmd == "say":
            print(await cache.media_for(args.text, args.lang))
        elif args.prompts_cmd == "evict":
            print(f"evicted {cache.evict_dynamic(args.max_age)} dynamic prompt(s)")
        else:
            items = flow_prompts(args.flows or s.flows_dir)
            t0 = time.perf_counter()
            for n, (text, lang) in enumerate(items, 1):
                before = cache.renders
                await cache.media_for(text, lang)
                state = "rendered" if cache.renders > before else "cached"
                print(f"[{n}/{len(items)}] {state:8} {lang} {text[:40]}", flush=True)
            names = await render_static(cache, s.sounds_dir)
            print(f"done in {time.perf_counter() - t0:.1f} s: {len(items)} flow prompts "
                  f"({cache.renders} rendered), static: {', '.join(names)}")
    finally:
        cache.close()
    return 0

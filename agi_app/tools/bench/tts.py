"""TTS figures: render time per prompt for each backend and language, cache hits.

Run ``python -m agi_app.tools.bench.tts [--n 40]``; prints a markdown table. It
renders into a temporary sounds folder, never the project's.

Measured per backend (pyttsx3 worker, espeak-ng command line) and language:
the engine alone (text to 22050 Hz wav) and a cache miss (engine, resampling,
both files written). Then the cost of a cache hit, static and dynamic, and
the worker's start-up (spawn, import, warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import wave
from collections.abc import Awaitable
from datetime import date
from decimal import Decimal
from pathlib import Path

from agi_app.adapters.tts.cache import PromptCache
from agi_app.adapters.tts.engines import Engine, EspeakCli, espeak_version
from agi_app.adapters.tts.voices import DEFAULT_VOICES
from agi_app.adapters.tts.worker import Pyttsx3Worker
from agi_app.core.speech.say import render_template

# 10-20 words each, filled with different amounts so that every text is new.
TEMPLATES = {
    "zh": "您好，您的账户余额为{a:amount}，最近一笔交易金额为{b:amount}，查询详情请按一。",
    "en": "Hello, your balance is {a:amount}, and your latest payment was {b:amount}. "
    "Press one for details.",
}


def texts(language: str, n: int, salt: int) -> list[str]:
    """``n`` distinct prompts in ``language``."""
    return [
        render_template(
            TEMPLATES[language],
            {"a": Decimal(salt * 1000 + i) + Decimal("0.35"), "b": Decimal(i + 2) / 4},
            language,
        )
        for i in range(n)
    ]


def ms_stats(samples_s: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    ordered = sorted(samples_s)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def timed(calls: list[Awaitable[object]]) -> list[float]:
    """Seconds each awaitable took, one after the other (coroutines start when awaited)."""
    out = []
    for call in calls:
        t0 = time.perf_counter()
        await call
        out.append(time.perf_counter() - t0)
    return out


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return float(w.getnframes() / w.getframerate())


async def bench_engine(engine: Engine, name: str, n: int, work: Path) -> list[str]:
    """Table rows for one backend: engine alone and cache miss, per language."""
    rows = []
    cache = PromptCache(work / f"sounds-{name}", engine)
    for salt, lang in enumerate(("zh", "en")):
        voice = DEFAULT_VOICES[lang]
        raw = [work / f"{name}-{lang}-{i}.wav" for i in range(n)]
        pairs = zip(texts(lang, n, salt), raw, strict=True)
        alone = await timed([engine.render(t, voice, r) for t, r in pairs])
        audio = statistics.median(wav_seconds(r) for r in raw)
        miss = await timed([cache.media_for(t, lang) for t in texts(lang, n, salt + 10)])
        (a_med, a_p95), (m_med, m_p95) = ms_stats(alone), ms_stats(miss)
        rows.append(
            f"| {name} | {lang} | {n} | {audio:.1f} | {a_med:.0f} | {a_p95:.0f} "
            f"| {m_med:.0f} | {m_p95:.0f} |"
        )
    assert cache.fallbacks == 0
    return rows


async def bench_hits(work: Path, n: int = 20000) -> list[str]:
    """Rows for a cache hit, static and dynamic (mean over ``n`` lookups)."""
    cache = PromptCache(work / "sounds-hits", EspeakCli())
    text = texts("zh", 1, 99)[0]
    rows = []
    await cache.media_for(text, "zh")  # dynamic
    for kind in ("dynamic", "static"):
        if kind == "static":
            await cache.prerender(text, "zh")
        renders = cache.renders
        t0 = time.perf_counter()
        for _ in range(n):
            await cache.media_for(text, "zh")
        mean_us = (time.perf_counter() - t0) / n * 1e6
        assert cache.renders == renders
        rows.append(f"| cache hit, {kind} prompt | {mean_us:.1f} µs | mean of {n} |")
    return rows


async def bench_start(work: Path, n: int = 3) -> str:
    """Row for the worker's start: spawn, import pyttsx3, warm-up, first render."""
    starts = []
    for i in range(n):
        worker = Pyttsx3Worker()
        t0 = time.perf_counter()
        await worker.render("您好。", DEFAULT_VOICES["zh"], work / f"start-{i}.wav")
        starts.append(time.perf_counter() - t0)
        worker.close()
    median_ms = statistics.median(starts) * 1000
    return f"| pyttsx3 worker start + first render | {median_ms:.0f} ms | median of {n} |"


async def run(n: int) -> str:
    """The whole benchmark as markdown."""
    with tempfile.TemporaryDirectory(prefix="agi-app-tts-bench-") as tmp:
        work = Path(tmp)
        start_row = await bench_start(work)
        worker = Pyttsx3Worker()
        try:
            await worker.render("warm up", DEFAULT_VOICES["en"], work / "warm.wav")
            rows = await bench_engine(worker, "pyttsx3 worker", n, work)
        finally:
            worker.close()
        rows += await bench_engine(EspeakCli(), "espeak-ng CLI", n, work)
        other = [start_row, *await bench_hits(work)]
    head = (
        "| backend | lang | prompts | audio s (median) | engine ms median | engine ms p95 "
        "| cache miss ms median | cache miss ms p95 |\n|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *rows, "", "| what | time | note |", "|---|---|---|", *other])


def machine() -> str:
    """One line naming the machine and software measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0]  # others' work on the machine skews the figures
    return (
        f"{date.today()}, {os.cpu_count()} cores ({cpu}), load average {load:.2f} at start, "
        f"Python {platform.python_version()}, espeak-ng {espeak_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="prompts per backend and language")
    args = parser.parse_args()
    table = asyncio.run(run(args.n))
    print(f"Command: `python -m agi_app.tools.bench.tts --n {args.n}`\n\nMachine: {machine()}\n")
    print(table)


if __name__ == "__main__":
    main()

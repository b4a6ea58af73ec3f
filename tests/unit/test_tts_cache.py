"""The prompt cache against a fake engine at the engine edge (no espeak here)."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import struct
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agi_app.adapters.tts.cache import PromptCache, evict_dynamic
from agi_app.adapters.tts.static import StaticFallback
from agi_app.adapters.tts.voices import Voice
from agi_app.core.speech.errors import EngineError, PromptError, VoiceError
from agi_app.core.speech.protocol import CACHED, STATIC, Prompted, PromptRenderer


class FakeEngine:
    """Writes a full-scale 440 Hz tone at 22050 Hz; counts renders; can be held or fail."""

    def __init__(self, ident: str = "fake-1", fail: bool = False) -> None:
        self.ident = ident
        self.fail = fail
        self.calls: list[tuple[str, Voice]] = []
        self.gate: asyncio.Event | None = None
        self.closed = False

    async def render(self, text: str, voice: Voice, out: Path) -> None:
        self.calls.append((text, voice))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise EngineError("fake failure")
        frames = b"".join(
            struct.pack("<h", round(32767 * math.sin(2 * math.pi * 440 * i / 22050)))
            for i in range(22050 // 2)
        )
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(22050)
            w.writeframes(frames)

    def close(self) -> None:
        self.closed = True


async def wait_for(condition: Callable[[], bool], timeout: float = 5) -> None:
    """Poll ``condition`` until true; fail the test at the deadline."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def cache(tmp_path: Path, engine: FakeEngine) -> Iterator[PromptCache]:
    c = PromptCache(tmp_path / "sounds", engine)
    yield c
    c.close()


def wav_of(cache: PromptCache, name: str) -> Path:
    return cache.sounds_dir / f"{name.removeprefix('agi_app/')}.wav"


async def test_cache_hit_does_not_render(cache: PromptCache, engine: FakeEngine) -> None:
    renderer: PromptRenderer = cache  # the flow engine's view of it
    first = await renderer.media_for("您好，欢迎致电。", "zh")
    second = await renderer.media_for("您好，欢迎致电。", "zh")
    assert first == second
    assert first.startswith("agi_app/cache/zh/")
    assert len(engine.calls) == 1 and cache.renders == 1


async def test_concurrent_requests_render_once(cache: PromptCache, engine: FakeEngine) -> None:
    engine.gate = asyncio.Event()
    tasks = [asyncio.create_task(cache.media_for("请稍候。", "zh")) for _ in range(10)]
    await wait_for(lambda: len(engine.calls) == 1)
    engine.gate.set()
    names = await asyncio.gather(*tasks)
    assert len(set(names)) == 1
    assert len(engine.calls) == 1 and cache.renders == 1


async def test_cancelled_caller_does_not_cancel_the_render(
    cache: PromptCache, engine: FakeEngine
) -> None:
    engine.gate = asyncio.Event()
    first = asyncio.create_task(cache.media_for("请稍候。", "zh"))
    second = asyncio.create_task(cache.media_for("请稍候。", "zh"))
    await wait_for(lambda: len(engine.calls) == 1)
    first.cancel()
    engine.gate.set()
    assert wav_of(cache, await second).exists()
    assert first.cancelled() and len(engine.calls) == 1


async def test_key_covers_language_text_voice_and_engine(tmp_path: Path) -> None:
    fast = {"zh": Voice("cmn-latn-pinyin", 200, 0.9), "en": Voice("en-us", 165, 1.0)}
    caches = [
        PromptCache(tmp_path, FakeEngine()),
        PromptCache(tmp_path, FakeEngine(), voices=fast),
        PromptCache(tmp_path, FakeEngine("fake-2")),
    ]
    names = {await c.media_for("一", "zh") for c in caches}
    names |= {await caches[0].media_for("二", "zh"), await caches[0].media_for("one", "en")}
    assert len(names) == 5


async def test_text_is_normalised(cache: PromptCache, engine: FakeEngine) -> None:
    a = await cache.media_for("您好，  再见。", "zh")  # full-width comma, double space
    b = await cache.media_for(" 您好, 再见。\n", "zh")
    assert a == b and len(engine.calls) == 1
    assert engine.calls[0][0] == "您好, 再见。"


async def test_fallback_renders_when_primary_fails(tmp_path: Path) -> None:
    fallback = FakeEngine("fallback")
    cache = PromptCache(tmp_path, FakeEngine(fail=True), fallback)
    name = await cache.media_for("请稍候。", "zh")
    assert wav_of(cache, name).exists()
    assert cache.fallbacks == 1 and len(fallback.calls) == 1


async def test_failure_reaches_every_waiter_and_is_not_cached(tmp_path: Path) -> None:
    primary, fallback = FakeEngine(fail=True), FakeEngine("fallback", fail=True)
    cache = PromptCache(tmp_path, primary, fallback)
    primary.gate = asyncio.Event()
    tasks = [asyncio.create_task(cache.media_for("请稍候。", "zh")) for _ in range(3)]
    await wait_for(lambda: len(primary.calls) == 1)
    primary.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, EngineError) for r in results)
    primary.gate, primary.fail = None, False
    assert wav_of(cache, await cache.media_for("请稍候。", "zh")).exists()
    assert len(primary.calls) == 2


async def test_call_time_prompts_are_dynamic_until_prerendered(
    cache: PromptCache, engine: FakeEngine
) -> None:
    dyn = await cache.media_for("您的余额为十二元。", "zh")
    assert "/dyn/" in dyn
    static, rendered = await cache.prerender("您的余额为十二元。", "zh")
    assert not rendered and "/dyn/" not in static  # moved, not rendered again
    assert not wav_of(cache, dyn).exists() and wav_of(cache, static).exists()
    assert await cache.media_for("您的余额为十二元。", "zh") == static
    assert await cache.prerender("您的余额为十二元。", "zh") == (static, False)
    assert len(engine.calls) == 1


async def test_evict_dynamic_by_age(cache: PromptCache, engine: FakeEngine) -> None:
    static, _ = await cache.prerender("欢迎。", "zh")
    old = await cache.media_for("余额一元。", "zh")
    fresh = await cache.media_for("余额两元。", "zh")
    two_hours_ago = time.time() - 7200
    for path in (wav_of(cache, static), wav_of(cache, old)):
        os.utime(path, (two_hours_ago, two_hours_ago))
    assert cache.evict_dynamic(3600) == 1
    assert not wav_of(cache, old).exists() and not wav_of(cache, old).with_suffix(".sln16").exists()
    assert wav_of(cache, fresh).exists() and wav_of(cache, static).exists()
    assert await cache.media_for("余额一元。", "zh") == old  # rendered again on demand
    assert len(engine.calls) == 4


async def test_playing_a_dynamic_prompt_keeps_it(cache: PromptCache) -> None:
    name = await cache.media_for("余额一元。", "zh")
    two_hours_ago = time.time() - 7200
    os.utime(wav_of(cache, name), (two_hours_ago, two_hours_ago))
    assert await cache.media_for("余额一元。", "zh") == name  # a hit refreshes the mtime
    assert evict_dynamic(cache.sounds_dir, 3600) == 0


async def test_cache_folder_removed_under_a_running_cache(
    cache: PromptCache, engine: FakeEngine
) -> None:
    name, _ = await cache.prerender("欢迎。", "zh")
    shutil.rmtree(cache.root)
    assert await cache.media_for("欢迎。", "zh") == name.replace("/zh/", "/zh/dyn/")
    assert len(engine.calls) == 2


async def test_audio_for_asterisk(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)  # files must be readable by Asterisk whatever the umask
    try:
        cache = PromptCache(tmp_path / "sounds", FakeEngine())
        name, _ = await cache.prerender("欢迎。", "zh")
    finally:
        os.umask(old_umask)
    wav = wav_of(cache, name)
    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        frames = w.readframes(w.getnframes())
        assert w.getnframes() == pytest.approx(4000, abs=2)  # 0.5 s
    peak = max(abs(s) for (s,) in struct.iter_unpack("<h", frames))
    assert 0.85 * 32767 < peak <= 10 ** (-1 / 20) * 32767 + 1  # -1 dBFS headroom
    sln16 = wav.with_suffix(".sln16")
    assert sln16.stat().st_size == pytest.approx(8000 * 2, abs=8)  # 0.5 s at 16 kHz
    for path in (wav, sln16):
        assert path.stat().st_mode & 0o777 == 0o644
    for folder in (wav.parent, wav.parent.parent, cache.sounds_dir):
        assert folder.stat().st_mode & 0o777 == 0o755
    assert not list(wav.parent.glob(".tmp-*"))


async def test_unknown_language_is_an_error(cache: PromptCache, engine: FakeEngine) -> None:
    with pytest.raises(VoiceError, match="'fr'"):
        await cache.media_for("Bonjour.", "fr")
    with pytest.raises(PromptError):
        await cache.media_for("  ", "zh")
    assert engine.calls == []


def test_evict_leaves_young_temp_files(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "zh" / "dyn"
    folder.mkdir(parents=True)
    young, old = folder / ".tmp-young.wav", folder / ".tmp-old.wav"
    young.write_bytes(b"x")
    old.write_bytes(b"x")
    long_ago = time.time() - 7200
    os.utime(old, (long_ago, long_ago))
    assert evict_dynamic(tmp_path, 0) == 0  # temp files are not prompts
    assert young.exists() and not old.exists()


def test_close_closes_engines(tmp_path: Path) -> None:
    primary, fallback = FakeEngine(), FakeEngine("fallback")
    PromptCache(tmp_path, primary, fallback).close()
    assert primary.closed and fallback.closed


class GarbageEngine(FakeEngine):
    """Writes a file that is not a wav."""

    async def render(self, text: str, voice: Voice, out: Path) -> None:
        self.calls.append((text, voice))
        out.write_bytes(b"not a wav file at all, but long enough to pass a size check")


async def test_unreadable_engine_output_is_an_engine_error(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path, GarbageEngine())
    with pytest.raises(EngineError, match="cannot write audio"):
        await cache.media_for("您好。", "zh")
    assert not list(tmp_path.rglob("*.wav"))


async def test_prompt_says_which_engine_rendered_it(tmp_path: Path) -> None:
    primary, fallback = FakeEngine("primary-1"), FakeEngine("fallback-1")
    cache = PromptCache(tmp_path, primary, fallback)
    assert (await cache.prompt("一。", "zh")).source == "primary-1"
    assert (await cache.prompt("一。", "zh")).source == CACHED
    primary.fail = True
    made = await cache.prompt("二。", "zh")
    assert made.source == "fallback-1" and wav_of(cache, made.sound).exists()


async def test_static_fallback_when_no_engine_can_render(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path, FakeEngine(fail=True), FakeEngine("fallback", fail=True))
    renderer = StaticFallback(cache)
    made = await renderer.prompt("您的余额为十二元。", "zh")
    assert made == Prompted("agi_app/static/prompt_unavailable", STATIC)
    assert await renderer.media_for("Your balance.", "en") == "agi_app/static/prompt_unavailable_en"
    assert renderer.static_fallbacks == 2


async def test_a_cached_dynamic_prompt_plays_when_its_folder_is_read_only(
    cache: PromptCache, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = await cache.media_for("余额一元。", "zh")
    old = time.time() - 3600
    os.utime(wav_of(cache, name), (old, old))

    def read_only(*_args: object, **_kw: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "utime", read_only)
    assert await cache.media_for("余额一元。", "zh") == name
    assert len(engine.calls) == 1

"""Real rendering: the pyttsx3 worker and the espeak-ng command line, both languages."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agi_app.adapters.tts.audio import read_wav
from agi_app.adapters.tts.cache import PromptCache
from agi_app.adapters.tts.engines import EspeakCli
from agi_app.adapters.tts.voices import DEFAULT_VOICES, Voice, check_voice, load_voices
from agi_app.adapters.tts.worker import Pyttsx3Worker
from agi_app.core.speech.errors import EngineError, VoiceError

# Ten words (Mandarin: ten words of two or three characters).
PROMPTS = {
    "zh": "您好，欢迎致电演示热线，查询余额请按一，人工服务请按零。",
    "en": "Welcome to the demo hotline, for your balance please press one.",
}
# Long enough that the worker is still rendering when the test kills it.
LONG = "Thank you for calling the demo hotline, your call matters to us. " * 20


async def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Poll ``condition`` until true; fail the test at the deadline."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


@pytest.fixture
async def worker() -> AsyncIterator[Pyttsx3Worker]:
    w = Pyttsx3Worker()
    yield w
    w.close()


@pytest.fixture
async def cache(tmp_path: Path, worker: Pyttsx3Worker) -> AsyncIterator[PromptCache]:
    c = PromptCache(tmp_path / "sounds", worker, EspeakCli())
    yield c
    c.close()


def duration(wav: Path) -> float:
    with wave.open(str(wav)) as w:
        return float(w.getnframes() / w.getframerate())


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_rendered_prompt_is_asterisk_audio(cache: PromptCache, lang: str) -> None:
    name = await cache.media_for(PROMPTS[lang], lang)
    wav = cache.sounds_dir / f"{name.removeprefix('agi_app/')}.wav"
    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    seconds = duration(wav)
    assert 0.5 < seconds < 10
    sln16 = wav.with_suffix(".sln16")
    assert sln16.stat().st_size % 2 == 0
    assert sln16.stat().st_size / 2 / 16000 == pytest.approx(seconds, abs=0.01)
    samples, _ = read_wav(wav)
    assert 0.1 < float(abs(samples).max()) <= 10 ** (-1 / 20) + 1e-4  # loud, with headroom
    assert cache.fallbacks == 0  # the worker rendered it


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_worker_speaks_the_text_it_is_given(
    worker: Pyttsx3Worker, tmp_path: Path, lang: str
) -> None:
    """Each render is the requested text, not a repeat of the previous one: its
    length matches the espeak-ng command line's for the same text."""
    cli, voice = EspeakCli(), DEFAULT_VOICES[lang]
    for i, text in enumerate([PROMPTS[lang], PROMPTS[lang][:12], PROMPTS[lang]]):
        await worker.render(text, voice, tmp_path / f"w{i}.wav")
        await cli.render(text, voice, tmp_path / f"c{i}.wav")
        assert duration(tmp_path / f"w{i}.wav") == pytest.approx(
            duration(tmp_path / f"c{i}.wav"), rel=0.05
        )
    assert duration(tmp_path / "w1.wav") < duration(tmp_path / "w0.wav") * 0.8
    assert worker.starts == 1


async def test_worker_output_stays_off_our_stdout(
    worker: Pyttsx3Worker, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    await worker.render("Hello.", DEFAULT_VOICES["en"], tmp_path / "out.wav")
    out, _ = capfd.readouterr()
    assert "Audio saved" not in out and out == ""


async def test_worker_killed_mid_render(cache: PromptCache, worker: Pyttsx3Worker) -> None:
    await cache.media_for("Warm up.", "en")  # a worker is running and idle
    first_pid = worker.pid
    assert first_pid is not None
    task = asyncio.create_task(cache.media_for(LONG, "en"))
    await wait_for(lambda: worker.in_flight)
    os.kill(first_pid, signal.SIGKILL)
    assert (await task).startswith("agi_app/cache/en/")  # served by the fallback
    assert cache.fallbacks == 1 and worker.kills == 1
    await cache.media_for("After the crash.", "en")
    assert cache.fallbacks == 1  # the worker again, a fresh one
    assert worker.starts == 2 and worker.pid not in (None, first_pid)


async def test_reply_to_a_cancelled_request_is_not_taken_for_the_next(
    worker: Pyttsx3Worker, tmp_path: Path
) -> None:
    voice = DEFAULT_VOICES["en"]
    await worker.render("Warm up.", voice, tmp_path / "warm.wav")
    task = asyncio.create_task(worker.render(LONG, voice, tmp_path / "long.wav"))
    await wait_for(lambda: worker.in_flight)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await worker.render("Short.", voice, tmp_path / "short.wav")
    assert duration(tmp_path / "short.wav") < 2  # its own reply, not the long one's
    assert duration(tmp_path / "long.wav") > 30  # which the worker did finish meanwhile
    assert worker.starts == 1


async def test_hung_worker_is_killed_and_replaced(
    cache: PromptCache, worker: Pyttsx3Worker
) -> None:
    worker.timeout_s = 1
    await cache.media_for("Warm up.", "en")
    hung_pid = worker.pid
    assert hung_pid is not None
    os.kill(hung_pid, signal.SIGSTOP)  # alive but silent: a hang
    try:
        await cache.media_for("Are you there?", "en")
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed and reaped: gone
            os.kill(hung_pid, signal.SIGCONT)
    assert cache.fallbacks == 1 and worker.kills == 1
    await cache.media_for("A fresh worker.", "en")
    assert cache.fallbacks == 1 and worker.starts == 2 and worker.pid != hung_pid


async def test_worker_that_cannot_start_is_not_retried_at_once(
    cache: PromptCache, worker: Pyttsx3Worker
) -> None:
    worker.start_timeout_s = 0.001  # no worker is ready that fast: a failed start
    await cache.media_for("First.", "en")
    await cache.media_for("Second.", "en")
    assert cache.fallbacks == 2  # both served
    assert worker.starts == 1  # the second went straight to the fallback
    assert worker.pid is None


async def test_unknown_voice_fails_in_both_engines(worker: Pyttsx3Worker, tmp_path: Path) -> None:
    bad = Voice("xx-no-such-voice", 160, 1.0)
    with pytest.raises(EngineError, match="pyttsx3"):
        await worker.render("Hello.", bad, tmp_path / "a.wav")
    with pytest.raises(EngineError, match="espeak-ng exited"):
        await EspeakCli().render("Hello.", bad, tmp_path / "b.wav")
    pid = worker.pid
    await worker.render("Hello.", DEFAULT_VOICES["en"], tmp_path / "c.wav")
    assert worker.pid == pid  # the worker survived the bad request


def test_check_voice() -> None:
    check_voice("zh")
    check_voice("en")
    with pytest.raises(VoiceError, match="no voice for language 'fr'"):
        check_voice("fr")
    with pytest.raises(VoiceError, match="no voice 'xx-no-such-voice'"):
        check_voice("zh", {"zh": Voice("xx-no-such-voice", 160, 1.0)})


def test_voices_from_config(tmp_path: Path) -> None:
    assert load_voices(tmp_path / "absent.yaml") == dict(DEFAULT_VOICES)
    config = tmp_path / "tts.yaml"
    config.write_text("voices:\n  zh: {voice: cmn-latn-pinyin, rate: 200, volume: 0.8}\n")
    voices = load_voices(config)
    assert voices["zh"] == Voice("cmn-latn-pinyin", 200, 0.8)
    assert voices["en"] == DEFAULT_VOICES["en"]
    config.write_text("voices:\n  zh: {voice: cmn-latn-pinyin, rate: 5000, volume: 0.8}\n")
    with pytest.raises(VoiceError, match="rate"):
        load_voices(config)

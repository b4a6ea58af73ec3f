"""The G.711 prompt files Asterisk plays on PCMU/PCMA calls without transcoding."""

from __future__ import annotations

import warnings
import wave
from pathlib import Path
from typing import Any

import numpy as np

from agi_app.adapters.tts.audio import alaw, backfill_g711, convert_for_asterisk, ulaw

EVERY_SAMPLE = np.arange(-32768, 32768, dtype="<i2").tobytes()


def _audioop() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

    return audioop


def test_ulaw_matches_the_reference_encoder_for_every_sample() -> None:
    assert ulaw(EVERY_SAMPLE) == _audioop().lin2ulaw(EVERY_SAMPLE, 2)


def test_alaw_matches_the_reference_encoder_for_every_sample() -> None:
    assert alaw(EVERY_SAMPLE) == _audioop().lin2alaw(EVERY_SAMPLE, 2)


def _tone(path: Path, rate: int = 22050, seconds: float = 0.5) -> None:
    t = np.arange(int(rate * seconds)) / rate
    pcm = (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def test_every_prompt_gets_g711_files_one_byte_per_8khz_sample(tmp_path: Path) -> None:
    _tone(tmp_path / "raw.wav")
    seconds = convert_for_asterisk(tmp_path / "raw.wav", tmp_path / "out" / "p1")
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["p1.alaw", "p1.sln16", "p1.ulaw", "p1.wav"]
    assert len((out / "p1.ulaw").read_bytes()) == len((out / "p1.alaw").read_bytes())
    assert abs(len((out / "p1.ulaw").read_bytes()) - seconds * 8000) <= 1
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in out.iterdir())


def test_backfill_adds_g711_to_older_cached_prompts_only(tmp_path: Path) -> None:
    _tone(tmp_path / "raw.wav")
    convert_for_asterisk(tmp_path / "raw.wav", tmp_path / "cache" / "zh" / "old")
    convert_for_asterisk(tmp_path / "raw.wav", tmp_path / "cache" / "zh" / "new")
    for suffix in (".ulaw", ".alaw"):
        (tmp_path / "cache" / "zh" / f"old{suffix}").unlink()
    (tmp_path / "cache" / "zh" / "notes.wav").write_bytes(b"not a wav")  # skipped, not fatal
    assert backfill_g711(tmp_path / "cache") == 1
    old = (tmp_path / "cache" / "zh" / "old.ulaw").read_bytes()
    assert old == (tmp_path / "cache" / "zh" / "new.ulaw").read_bytes()
    assert backfill_g711(tmp_path / "cache") == 0

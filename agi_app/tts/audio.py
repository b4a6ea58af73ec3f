"""Audio for Asterisk: 8 kHz 16-bit mono wav and 16 kHz .sln16, written atomically."""

from __future__ import annotations

import os
import tempfile
import wave
from pathlib import Path

import numpy as np
import soxr

HEADROOM = 10 ** (-1 / 20)  # peak at -1 dBFS: Mandarin output reaches 0 dBFS


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit samples")
        frames = w.readframes(w.getnframes())
        data = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels()).mean(axis=1)
        return data, w.getframerate()


def _pcm16(samples: np.ndarray) -> bytes:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > HEADROOM:
        samples = samples * (HEADROOM / peak)
    pcm: bytes = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return pcm


def _atomic_write(path: Path, data: bytes, wav_rate: int | None) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            if wav_rate is None:
                fh.write(data)
            else:
                with wave.open(fh, "wb") as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(wav_rate)
                    w.writeframes(data)
        os.chmod(tmp, 0o644)  # Asterisk runs as its own user
        os.replace(tmp, path)  # Asterisk never sees half a file
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone already after a successful replace


def convert_for_asterisk(source: Path, target_base: Path) -> float:
    """Write ``<base>.wav`` (8 kHz) and ``<base>.sln16`` (16 kHz); return seconds."""
    samples, rate = read_wav(source)
    target_base.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    s16k = soxr.resample(samples, rate, 16000) if rate != 16000 else samples
    s8k = soxr.resample(samples, rate, 8000) if rate != 8000 else samples
    _atomic_write(target_base.with_suffix(".sln16"), _pcm16(s16k), None)
    _atomic_write(target_base.with_suffix(".wav"), _pcm16(s8k), 8000)
    return len(s8k) / 8000

"""Audio for Asterisk: 8 kHz 16-bit mono wav and 16 kHz .sln16, written atomically.

espeak writes 22050 Hz; Asterisk plays 8 kHz wav, or .sln16 (raw 16 kHz
signed linear) on wideband channels. soxr resamples (2-11 ms a prompt).
Files are 0644 and folders 0755 because Asterisk runs as its own user.
"""

from __future__ import annotations

import os
import tempfile
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

Samples = npt.NDArray[np.float32]

HEADROOM = 10 ** (-1 / 20)  # peaks at -1 dBFS at most: Mandarin output reaches 0 dBFS
WAV_RATE = 8000
SLN16_RATE = 16000


def read_wav(path: Path) -> tuple[Samples, int]:
    """Samples (mono, -1..1) and rate of a 16-bit wav."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit samples")
        frames = w.readframes(w.getnframes())
        channels, rate = w.getnchannels(), w.getframerate()
    data: Samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return data, rate


def pcm16(samples: Samples) -> bytes:
    """Little-endian 16-bit PCM, scaled down if the peak exceeds the headroom."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > HEADROOM:
        samples = samples * np.float32(HEADROOM / peak)
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def ensure_dir(path: Path) -> None:
    """Create ``path`` and missing parents, each new one 0755 whatever the umask."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o755)


def atomic_write(path: Path, pcm: bytes, wav_rate: int | None) -> None:
    """Write raw ``pcm`` (or a wav at ``wav_rate``) to a temp file, then rename it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            if wav_rate is None:
                fh.write(pcm)
            else:
                with wave.open(fh, "wb") as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(wav_rate)
                    w.writeframes(pcm)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600: Asterisk could not read it
        os.replace(tmp, path)  # Asterisk never sees half a file
    finally:
        Path(tmp).unlink(missing_ok=True)  # only left if something failed


def convert_for_asterisk(source: Path, target_base: Path) -> float:
    """Write ``<base>.sln16`` then ``<base>.wav`` (the presence mark); return seconds."""
    samples, rate = read_wav(source)
    ensure_dir(target_base.parent)
    s16k = samples if rate == SLN16_RATE else soxr.resample(samples, rate, SLN16_RATE)
    s8k = samples if rate == WAV_RATE else soxr.resample(samples, rate, WAV_RATE)
    # The cache tests for the .wav: write it last, so both exist when it does.
    atomic_write(target_base.with_suffix(".sln16"), pcm16(s16k), None)
    atomic_write(target_base.with_suffix(".wav"), pcm16(s8k), WAV_RATE)
    return len(s8k) / WAV_RATE

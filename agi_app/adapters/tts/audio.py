"""Audio for Asterisk: 8 kHz wav, G.711 (.ulaw, .alaw) and 16 kHz .sln16, written atomically.

espeak writes 22050 Hz; soxr resamples (2-11 ms a prompt). Asterisk plays the
file whose format costs least to translate to the channel's codec: .ulaw or
.alaw on G.711 calls (no transcoding at all), .sln16 on wideband channels, the
8 kHz wav otherwise. The wav is written last: its presence means the set is
complete. Files are 0644 and folders 0755 because Asterisk runs as its own user.
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


def ulaw(pcm: bytes) -> bytes:
    """G.711 mu-law of little-endian 16-bit PCM (14-bit magnitude, bias 33, 8 segments)."""
    s = np.frombuffer(pcm, dtype="<i2").astype(np.int32) >> 2
    mask = np.where(s < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(s), 8159) + 33  # 33..8192
    seg = np.clip(np.floor(np.log2(mag)).astype(np.int32) - 5, 0, 7)
    code = np.where(mag >= 8192, 0x7F, (seg << 4) | ((mag >> (seg + 1)) & 0x0F))
    return bytes((code ^ mask).astype(np.uint8))


def alaw(pcm: bytes) -> bytes:
    """G.711 A-law of little-endian 16-bit PCM (13-bit segments, even bits inverted)."""
    s = np.frombuffer(pcm, dtype="<i2").astype(np.int32) >> 3
    sign = np.where(s >= 0, 0x80, 0)
    mag = np.minimum(np.where(s >= 0, s, -s - 1), 0xFFF)
    exp = np.where(mag < 32, 0, np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 4)
    mant = np.where(mag < 32, mag >> 1, mag >> np.maximum(exp, 1)) & 0x0F
    return bytes(((sign | (exp << 4) | mant) ^ 0x55).astype(np.uint8))


G711 = {".ulaw": ulaw, ".alaw": alaw}


def write_g711(base: Path, pcm8k: bytes) -> None:
    """``<base>.ulaw`` and ``<base>.alaw`` from 8 kHz 16-bit PCM."""
    for suffix, encode in G711.items():
        atomic_write(base.with_suffix(suffix), encode(pcm8k), None)


def backfill_g711(folder: Path) -> int:
    """Add the G.711 files to prompts under ``folder`` that only have a wav (older
    caches); returns how many prompts got them."""
    done = 0
    for wav in folder.rglob("*.wav"):
        if wav.name.startswith(".tmp-") or all(wav.with_suffix(s).exists() for s in G711):
            continue
        try:
            with wave.open(str(wav), "rb") as w:
                if (w.getframerate(), w.getsampwidth(), w.getnchannels()) != (WAV_RATE, 2, 1):
                    continue
                pcm = w.readframes(w.getnframes())
        except (wave.Error, EOFError):
            continue  # not one of our prompts
        write_g711(wav.with_suffix(""), pcm)
        done += 1
    return done


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
    """Write ``<base>.sln16``, ``.ulaw``, ``.alaw``, then ``.wav`` (the presence mark);
    return seconds."""
    samples, rate = read_wav(source)
    ensure_dir(target_base.parent)
    s16k = samples if rate == SLN16_RATE else soxr.resample(samples, rate, SLN16_RATE)
    s8k = samples if rate == WAV_RATE else soxr.resample(samples, rate, WAV_RATE)
    # The cache tests for the .wav: write it last, so all exist when it does.
    atomic_write(target_base.with_suffix(".sln16"), pcm16(s16k), None)
    pcm8k = pcm16(s8k)
    write_g711(target_base, pcm8k)
    atomic_write(target_base.with_suffix(".wav"), pcm8k, WAV_RATE)
    return len(s8k) / WAV_RATE

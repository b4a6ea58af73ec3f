"""G.711 decoding (mu-law and A-law to 16-bit linear), the inverse of
``agi_app.adapters.tts.audio.ulaw`` / ``alaw``: for G.711 recordings and prompt files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.uint8]
Pcm = npt.NDArray[np.int16]


def ulaw_to_pcm(codes: Codes) -> Pcm:
    """16-bit samples of mu-law codes (ITU-T G.711, bias 33 on a 14-bit scale)."""
    u = (~codes.astype(np.int32)) & 0xFF
    mag = ((((u & 0x0F) << 1) | 0x21) << ((u >> 4) & 0x07)) - 0x21
    pcm = np.where(u & 0x80, -mag, mag) << 2
    return pcm.astype(np.int16)


def alaw_to_pcm(codes: Codes) -> Pcm:
    """16-bit samples of A-law codes (ITU-T G.711, even bits inverted, 13-bit scale)."""
    a = codes.astype(np.int32) ^ 0x55
    exp, mant = (a >> 4) & 0x07, a & 0x0F
    mag = np.where(exp == 0, (mant << 1) | 1, ((mant << 1) | 0x21) << np.maximum(exp - 1, 0))
    pcm = np.where(a & 0x80, mag, -mag) << 3
    return pcm.astype(np.int16)


def decode_file(path: Path) -> npt.NDArray[np.float64]:
    """Samples (-1..1) of a raw ``.ulaw`` or ``.alaw`` file."""
    codes = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    decode = {".ulaw": ulaw_to_pcm, ".alaw": alaw_to_pcm}[path.suffix]
    return decode(codes).astype(np.float64) / 32768.0

"""Finding a prompt in a call recording: normalised cross-correlation.

Pure functions on 8 kHz mono float samples (-1..1). A prompt is *located* by
the normalised cross-correlation (NCC) of its head (its first second of
sound) against the recording; from there it is *followed* block by block
(100 ms, each re-aligned within ±30 ms, as a jitter buffer may add or drop a
frame) until the recording stops matching: how long it was heard.

Measured on this stack (PCMU, prompts played untranscoded from ``.ulaw``): a
prompt that played peaks at 0.998-1.000; other prompts' heads against the
same recording stay at or below 0.53 with a one-second head, so a head is
taken as found at 0.8. Shorter heads match shared words of other prompts
(0.95 with 0.3 s), so they are only tried in a narrow window, at 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float64]

RATE = 8000
HEAD_S = 1.0
SHORT_HEAD_S = 0.5
FOUND = 0.8  # NCC of a one-second head: heard
FOUND_SHORT = 0.9  # NCC of a half-second head, in a narrow window only
BLOCK_S = 0.1
DRIFT_S = 0.03
BLOCK_MATCH = 0.7
QUIET_RMS = 10 ** (-50 / 20)  # -50 dBFS: no speech
SOUND_RMS = 10 ** (-40 / 20)  # -40 dBFS: a block of a prompt that holds speech


@dataclass(frozen=True)
class Located:
    start_s: float  # where the prompt's first sample falls in the recording
    score: float  # peak NCC of its head


def rms(x: Samples) -> float:
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def first_sound(prompt: Samples) -> int:
    """Index of the first 10 ms frame of ``prompt`` that holds sound (-1: none)."""
    frame = RATE // 100
    for i in range(0, prompt.size, frame):
        if rms(prompt[i : i + frame]) >= SOUND_RMS:
            return i
    return -1


def ncc(recording: Samples, template: Samples) -> Samples:
    """NCC of ``template`` at every lag of ``recording`` (quiet windows score 0)."""
    n, m = recording.size, template.size
    if m == 0 or n < m:
        return np.zeros(0)
    size = 1 << (n + m - 1).bit_length()
    spec = np.fft.rfft(recording, size) * np.conj(np.fft.rfft(template, size))
    dot = np.fft.irfft(spec, size)[: n - m + 1]
    energy = np.concatenate(([0.0], np.cumsum(recording * recording)))
    window = np.sqrt(np.maximum(energy[m:] - energy[:-m], 0.0))
    norm = window * float(np.linalg.norm(template))
    quiet = window < QUIET_RMS * np.sqrt(m)
    out: Samples = np.where(quiet, 0.0, dot / np.where(norm > 0, norm, 1.0))
    return out


def locate(
    recording: Samples,
    prompt: Samples,
    after_s: float,
    before_s: float | None = None,
    *,
    head_s: float = HEAD_S,
    found: float = FOUND,
) -> Located | None:
    """The first place the prompt starts after ``after_s`` (and before ``before_s``)
    with its head's NCC at ``found`` or more; None if there is none."""
    lead = first_sound(prompt)
    if lead < 0:
        return None
    head = prompt[lead : lead + int(head_s * RATE)]
    lo = max(0, int(after_s * RATE))
    hi = recording.size if before_s is None else int(before_s * RATE) + lead + head.size
    scores = ncc(recording[lo:hi], head)
    above = np.flatnonzero(scores >= found)
    if not above.size:
        return None
    first = int(above[0])
    peak = first + int(np.argmax(scores[first : first + RATE // 5]))
    return Located(round((lo + peak - lead) / RATE, 3), round(float(scores[peak]), 3))


def heard_for(recording: Samples, prompt: Samples, start_s: float) -> tuple[float, bool]:
    """(seconds of the prompt heard from ``start_s``, whether all its sound was).

    Blocks of the prompt are compared in order: a block with speech must
    correlate (re-aligned within ±30 ms), a quiet block must be quiet in the
    recording too. Two failing blocks in a row end it (one is a glitch).
    """
    block, drift = int(BLOCK_S * RATE), int(DRIFT_S * RATE)
    start, offset = round(start_s * RATE), 0
    heard_blocks, misses, last_sound = 0, 0, -1
    blocks = -(-prompt.size // block)
    for j in range(blocks):
        part = prompt[j * block : (j + 1) * block]
        at = start + j * block + offset
        sound = rms(part) >= SOUND_RMS
        last_sound = j if sound else last_sound
        ok, shift = _block_matches(recording, part, at, drift, sound)
        if ok:
            offset += shift
            heard_blocks, misses = j + 1, 0
            continue
        misses += 1
        if misses == 2:
            break
    complete = heard_blocks > last_sound
    heard = prompt.size / RATE if complete else heard_blocks * block / RATE
    return round(min(heard, prompt.size / RATE), 3), complete


def _block_matches(
    recording: Samples, part: Samples, at: int, drift: int, sound: bool
) -> tuple[bool, int]:
    if at + part.size > recording.size or at < 0:
        return False, 0
    if not sound:
        return rms(recording[at : at + part.size]) <= max(4 * rms(part), QUIET_RMS), 0
    lo = max(0, at - drift)
    scores = ncc(recording[lo : at + part.size + drift], part)
    if scores.size == 0:
        return False, 0
    best = int(np.argmax(scores))
    return bool(scores[best] >= BLOCK_MATCH), lo + best - at


def silences(recording: Samples, min_s: float = 1.0) -> list[tuple[float, float]]:
    """Stretches of at least ``min_s`` seconds quieter than -50 dBFS (20 ms frames)."""
    frame = RATE // 50
    n = recording.size // frame
    if n == 0:
        return []
    frames = recording[: n * frame].reshape(n, frame)
    quiet = np.sqrt(np.mean(frames * frames, axis=1)) < QUIET_RMS
    out, begin = [], None
    for i, q in enumerate([*quiet.tolist(), False]):
        if q and begin is None:
            begin = i
        elif not q and begin is not None:
            if (i - begin) * frame >= min_s * RATE:
                out.append((round(begin * frame / RATE, 2), round(i * frame / RATE, 2)))
            begin = None
    return out

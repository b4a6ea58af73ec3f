"""Finding a prompt in a call recording: normalised cross-correlation.

Pure functions on 8 kHz mono float samples (-1..1). A prompt is *located* by
the normalised cross-correlation (NCC) of its head (its first second of
sound) against the recording, and *followed* from there in 200 ms blocks,
each re-aligned within ±30 ms (a jitter buffer adds or drops a frame), until
the recording stops matching; the stop is placed to 20 ms.

Measured on this stack (PCMU, prompts played untranscoded from ``.ulaw``): a
prompt that played peaks at 0.998-1.000; other prompts' heads against the
same recording stay at or below 0.53. But a jitter buffer's 10 ms slip inside
the head brought a prompt that did play down to 0.82, so a head only makes a
candidate (at 0.4), and the candidate is found when the recording follows
the prompt for 0.8 s. A 200 ms block of one prompt against other speech,
re-aligned, scores 0.54 at the 99th percentile and 0.75 at the 99.9th (100 ms
blocks: 0.72 and 0.99), so a block matches at 0.9. A prompt cut by a digit in
its first second is looked for with a half-second head near the digit, at 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float64]

RATE = 8000
HEAD_S = 1.0
CANDIDATE = 0.4  # NCC of a one-second head: worth following
CONFIRM_S = 0.8  # ... and found, when followed this long (or to its end)
SHORT_HEAD_S = 0.5  # for a prompt cut in its first second, in a narrow window
SHORT_CANDIDATE = 0.9
SHORT_CONFIRM_S = 0.2
MAX_CANDIDATES = 50
BLOCK_S = 0.2
DRIFT_S = 0.03
BLOCK_MATCH = 0.9
QUIET_RMS = 10 ** (-50 / 20)  # -50 dBFS: no speech
SOUND_RMS = 10 ** (-40 / 20)  # -40 dBFS: a block of a prompt that holds speech


@dataclass(frozen=True)
class Located:
    start_s: float  # where the prompt's first sample falls in the recording
    score: float  # mean peak NCC of its heard blocks with sound (1.0: sample-exact)
    heard_s: float  # seconds of it heard from there
    complete: bool  # all its sound was heard


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
    candidate: float = CANDIDATE,
    confirm_s: float = CONFIRM_S,
) -> Located | None:
    """The first place after ``after_s`` (and before ``before_s``) where the
    prompt starts: its head scores ``candidate`` or more and the recording
    then follows it for ``confirm_s`` (or to its end); None if there is none."""
    lead = first_sound(prompt)
    if lead < 0:
        return None
    head = prompt[lead : lead + int(head_s * RATE)]
    lo = max(0, int(after_s * RATE))
    hi = recording.size if before_s is None else int(before_s * RATE) + lead + head.size
    scores = ncc(recording[lo:hi], head)
    for peak in _peaks(scores, candidate)[:MAX_CANDIDATES]:
        start_s = (lo + peak - lead) / RATE
        heard, complete, score = heard_for(recording, prompt, start_s)
        if complete or heard >= confirm_s:
            return Located(round(start_s, 3), score, heard, complete)
    return None


def _peaks(scores: Samples, threshold: float) -> list[int]:
    """The highest point of each run of ``scores`` at ``threshold`` or more, in order."""
    above = np.concatenate(([0], (scores >= threshold).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(above))
    return [int(a + np.argmax(scores[a:b])) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def heard_for(recording: Samples, prompt: Samples, start_s: float) -> tuple[float, bool, float]:
    """(seconds of the prompt heard from ``start_s``, whether all its sound was,
    the mean peak NCC of the blocks with sound that matched).

    Blocks of the prompt are compared in order: a block with speech must
    correlate (re-aligned within ±30 ms), a quiet block must be quiet in the
    recording too. Two failing blocks in a row end it (one is a glitch).
    """
    block, drift = int(BLOCK_S * RATE), int(DRIFT_S * RATE)
    start, offset = round(start_s * RATE), 0
    parts = [prompt[i : i + block] for i in range(0, prompt.size, block)]
    sound = [rms(part) >= SOUND_RMS for part in parts]
    last_sound = max((j for j, s in enumerate(sound) if s), default=-1)
    heard_blocks, misses, matched = 0, 0, []
    for j, part in enumerate(parts):
        at = start + j * block + offset
        ok, shift, score = _block_matches(recording, part, at, drift, sound[j])
        if ok:
            offset += shift
            heard_blocks, misses = j + 1, 0
            matched += [score] if sound[j] else []
            continue
        misses += 1
        if misses == 2:
            break
    score = round(float(np.mean(matched)), 3) if matched else 0.0
    if heard_blocks > last_sound:
        return round(prompt.size / RATE, 3), True, score
    end = heard_blocks * block
    end += _matching_prefix(recording[start + offset + end :], prompt[end : end + block])
    return round(end / RATE, 3), False, score


def _matching_prefix(recording: Samples, part: Samples) -> int:
    """Samples of ``part`` (already aligned) that the recording repeats, in 20 ms
    frames: where in its first failing block a prompt stopped."""
    frame = RATE // 50
    for i in range(0, part.size, frame):
        p, r = part[i : i + frame], recording[i : i + frame]
        if r.size < p.size:
            return i
        if rms(p) >= QUIET_RMS and rms(r - p) >= 0.3 * rms(p):
            return i
        if rms(p) < QUIET_RMS and rms(r) > max(4 * rms(p), QUIET_RMS):
            return i
    return part.size


def _block_matches(
    recording: Samples, part: Samples, at: int, drift: int, sound: bool
) -> tuple[bool, int, float]:
    """(matches, re-alignment in samples, peak NCC) of one block of a prompt."""
    if at + part.size > recording.size or at < 0:
        return False, 0, 0.0
    if not sound:
        return rms(recording[at : at + part.size]) <= max(4 * rms(part), QUIET_RMS), 0, 0.0
    lo = max(0, at - drift)
    scores = ncc(recording[lo : at + part.size + drift], part)
    if scores.size == 0:
        return False, 0, 0.0
    best = int(np.argmax(scores))
    return bool(scores[best] >= BLOCK_MATCH), lo + best - at, float(scores[best])


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

"""Did the caller hear the prompts the journey says were played?

The journey's steps name every sound the flow asked Asterisk to play, in
order, with its barge-in flag (``detail.prompts``). Each one's audio is in the
prompt cache; the recording caller sent digits at known times. Walking the
prompts in order, each is located in the recording after the previous one
and followed as long as it matches (``agi_app.tools.qa.audiomatch``), then judged:

- ``heard``: all of its sound was heard;
- ``heard, cut by digit``: it stopped within 1.5 s after a digit the caller sent
  while it played (barge-in): heard up to the digit;
- ``skipped``: a barge-in prompt that never started because a digit came
  first (the prompts after a barge-in in one play, or a digit already waiting);
- ``NOT HEARD`` / ``CUT SHORT``: a failure; silent stretches where it should
  have been playing are listed with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agi_app.adapters.tts.audio import read_wav
from agi_app.adapters.tts.cache import SOUND_PREFIX
from agi_app.tools.qa import audiomatch as am
from agi_app.tools.qa.g711 import decode_file

CUT_AFTER_DIGIT_S = 1.5  # a barge-in stop lands this soon after the digit at most
SKIP_GAP_S = 1.0  # a digit this soon after a prompt stopped can skip the next one
SILENCE_S = 1.0  # silent stretches at least this long are reported


@dataclass(frozen=True)
class Expected:
    """A sound the journey says the flow played, and in which node."""

    node: str
    sound: str  # Asterisk's sound name, e.g. agi_app/cache/zh/<hash>
    barge_in: bool
    step: int = 0  # index of the journey step that recorded it


@dataclass(frozen=True)
class Sent:
    """A digit the caller sent, when (seconds of the recording), and the index of
    the journey step that took it (a later step's prompts may be skipped by it)."""

    digit: str
    at_s: float
    step: int


@dataclass
class PromptHeard:
    expected: Expected
    length_s: float = 0.0
    status: str = "NOT HEARD"
    start_s: float | None = None
    heard_s: float = 0.0
    score: float = 0.0
    digit: tuple[str, float] | None = None
    silences: list[tuple[float, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("heard", "heard, cut by digit", "skipped")


@dataclass
class HeardReport:
    prompts: list[PromptHeard]
    recording_s: float
    digits: list[Sent]

    @property
    def ok(self) -> bool:
        return bool(self.prompts) and all(p.ok for p in self.prompts)

    def table(self) -> str:
        """The per-prompt table ``qa call --heard`` prints."""
        good = sum(p.ok for p in self.prompts)
        sent = ", ".join(f"{d.digit}@{d.at_s:.2f}s" for d in self.digits) or "none"
        lines = [
            f"heard: {good} of {len(self.prompts)} prompts ok (recording {self.recording_s:.1f} s;"
            f" digits sent: {sent})",
            f"  {'#':>2}  {'node':<18} {'sound':<26} {'start':>6} {'heard/length':>13}"
            f" {'score':>5}  result",
        ]
        for i, p in enumerate(self.prompts, 1):
            start = "-" if p.start_s is None else f"{p.start_s:.2f}"
            score = "-" if p.start_s is None else f"{p.score:.2f}"
            result = p.status + (f" ({p.digit[0]} at {p.digit[1]:.2f} s)" if p.digit else "")
            lines.append(
                f"  {i:>2}  {p.expected.node:<18} {_short(p.expected.sound):<26} {start:>6}"
                f" {p.heard_s:>6.2f}/{p.length_s:<6.2f} {score:>5}  {result}"
            )
            lines += [
                f"        silence {a:.2f}-{b:.2f} s where it should play" for a, b in p.silences
            ]
        if not self.prompts:
            lines.append("  the journey names no prompt (was it recorded by this version?)")
        return "\n".join(lines)


def _short(sound: str) -> str:
    name = sound.removeprefix(f"{SOUND_PREFIX}/cache/")
    return name if len(name) <= 26 else name[:25] + "…"


def expected_prompts(steps: list[dict[str, Any]]) -> list[Expected]:
    """The sounds in journey order, from steps whose ``detail`` is JSON text or a dict."""
    out = []
    for i, step in enumerate(steps):
        detail = step.get("detail") or {}
        if isinstance(detail, str):
            detail = json.loads(detail)
        for p in detail.get("prompts", []):
            out.append(Expected(step["node"], p["sound"], bool(p["barge_in"]), i))
    return out


def sent_digits(steps: list[dict[str, Any]], digits: list[tuple[str, float]]) -> list[Sent]:
    """Each sent digit with the step that took it: the steps' digits matched in
    order; a digit no step kept (invalid, ``*``, a terminator) goes to the next
    step that keeps one, one never taken to no step (past the last)."""
    kept = [(i, d) for i, step in enumerate(steps) for d in step.get("digits") or ""]
    out, k = [], 0
    pending: list[tuple[str, float]] = []
    for digit, at in digits:
        pending.append((digit, at))
        if k < len(kept) and kept[k][1] == digit:
            out += [Sent(d, t, kept[k][0]) for d, t in pending]
            pending, k = [], k + 1
    return out + [Sent(d, t, len(steps)) for d, t in pending]


def prompt_audio(sounds_dir: Path, sound: str) -> am.Samples | None:
    """The prompt's 8 kHz audio: its ``.wav`` (the set's master), else a G.711 file."""
    base = sounds_dir / sound.removeprefix(f"{SOUND_PREFIX}/")
    wav = base.with_suffix(".wav")
    if wav.exists():
        data, rate = read_wav(wav)
        if rate != am.RATE:
            raise ValueError(f"{wav}: {rate} Hz, expected {am.RATE}")
        return data.astype(np.float64)
    for suffix in (".ulaw", ".alaw"):
        if base.with_suffix(suffix).exists():
            return decode_file(base.with_suffix(suffix))
    return None


def check(
    recording: am.Samples,
    expected: list[Expected],
    audio: dict[str, am.Samples | None],
    digits: list[Sent],
) -> HeardReport:
    """Judge each expected prompt against the recording (see the module doc)."""
    gaps = am.silences(recording, SILENCE_S)
    cursor, prev_start = 0.0, 0.0
    out = []
    for exp in expected:
        prompt = audio.get(exp.sound)
        result = PromptHeard(exp)
        out.append(result)
        if prompt is None:
            result.status = "NO AUDIO FILE"
            continue
        result.length_s = round(prompt.size / am.RATE, 3)
        if am.first_sound(prompt) < 0:
            result.status = "SILENT PROMPT FILE"
            continue
        found = _locate(recording, prompt, cursor, digits)
        if found is None:
            _not_found(result, exp, digits, prev_start, cursor, gaps)
            continue
        result.start_s, result.score = found.start_s, found.score
        result.heard_s, end = found.heard_s, found.start_s + found.heard_s
        if found.complete:
            result.status = "heard"
        else:
            _judge_cut(result, end, digits)
        # The last block that matched may hold the next prompt's quiet start
        # (measured: 80 ms): the next one is looked for from a block before.
        prev_start, cursor = found.start_s, max(cursor, end - am.BLOCK_S)
    return HeardReport(out, round(recording.size / am.RATE, 2), digits)


def _locate(
    recording: am.Samples, prompt: am.Samples, cursor: float, digits: list[Sent]
) -> am.Located | None:
    """The prompt after ``cursor``. One that a digit cut started before it: look
    there first, then with a short head near the digit (cut in its first
    second), then anywhere after."""
    nxt = next((d.at_s for d in digits if d.at_s >= cursor), None)
    if nxt is not None:
        found = am.locate(recording, prompt, cursor, nxt) or am.locate(
            recording,
            prompt,
            max(cursor, nxt - am.HEAD_S - 0.5),
            nxt,
            head_s=am.SHORT_HEAD_S,
            candidate=am.SHORT_CANDIDATE,
            confirm_s=am.SHORT_CONFIRM_S,
        )
        if found is not None:
            return found
    return am.locate(recording, prompt, cursor)


def _judge_cut(result: PromptHeard, end: float, digits: list[Sent]) -> None:
    assert result.start_s is not None
    for d in digits:
        if result.start_s <= d.at_s <= end + 0.2 and end <= d.at_s + CUT_AFTER_DIGIT_S:
            result.status, result.digit = "heard, cut by digit", (d.digit, d.at_s)
            result.heard_s = round(d.at_s - result.start_s, 3)  # heard up to the digit
            return
    result.status = "CUT SHORT"


def _not_found(
    result: PromptHeard,
    exp: Expected,
    digits: list[Sent],
    prev_start: float,
    cursor: float,
    gaps: list[tuple[float, float]],
) -> None:
    if exp.barge_in:
        for d in digits:
            # The digit that ended an earlier step was taken there: it skips
            # nothing of a later one.
            if prev_start <= d.at_s <= cursor + SKIP_GAP_S and d.step >= exp.step:
                result.status, result.digit = "skipped", (d.digit, d.at_s)
                return
    window = (cursor, cursor + result.length_s)
    result.silences = [(a, b) for a, b in gaps if a < window[1] and b > window[0]]

"""``qa call --heard``: the recording caller, then the heard check on its journey."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np

from agi_app.adapters.tts.audio import read_wav
from agi_app.settings import Settings
from agi_app.tools.qa import heard
from agi_app.tools.qa.recorder import RecordedCall, record_call
from agi_app.tools.qa.scenario import Step

_UNSAFE = re.compile(r"[^A-Za-z0-9+_-]")


def recording_path(settings: Settings, caller: str, called: str) -> Path:
    """Where a QA call's recording is kept (var/qa/, git-ignored), to listen to."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    name = _UNSAFE.sub("_", f"{caller[:32]}-{called[:32]}")  # a caller ID may hold '/'
    return settings.var_dir / "qa" / f"{stamp}-{name}.wav"


async def place(
    settings: Settings, steps: list[Step], caller: str, called: str, timeout_s: float
) -> RecordedCall:
    """Place the call with the recording user agent."""
    return await record_call(
        steps,
        recording_path(settings, caller, called),
        caller=caller,
        called=called,
        target=f"{settings.bind_address}:{settings.sip_port}",
        timeout_s=timeout_s,
    )


def report(
    settings: Settings, call: RecordedCall, journey_steps: list[dict[str, Any]]
) -> heard.HeardReport:
    """Match the call's recording against the prompts its journey names."""
    samples, rate = read_wav(call.wav)
    if rate != 8000:
        raise ValueError(f"{call.wav}: {rate} Hz, expected 8000")
    expected = heard.expected_prompts(journey_steps)
    audio = {e.sound: heard.prompt_audio(settings.sounds_dir, e.sound) for e in expected}
    digits = heard.sent_digits(journey_steps, call.digits)
    return heard.check(samples.astype(np.float64), expected, audio, digits)

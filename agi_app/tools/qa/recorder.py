"""Place one call with the recording user agent and wait for its outcome.

The user agent (``agi_app.tools.qa.uagent``, pjsua2) runs as a child process; this
side hands it the key script, waits with a deadline, and reads back when the
call was answered, when each digit went out and when it ended, all on the
recording's own time axis (seconds from its first sample).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agi_app.settings import get_settings
from agi_app.tools.qa.scenario import Step


@dataclass
class RecordedCall:
    """What the recording caller did and heard. Times in seconds of the WAV."""

    wav: Path
    answered: bool
    cause: int | None = None  # Q.850 cause of the far end's BYE
    status: int = 0  # the last SIP status code
    digits: list[tuple[str, float]] = field(default_factory=list)
    answered_at: float | None = None
    ended_at: float | None = None
    we_hung_up: bool = False
    error: str = ""
    output: str = ""  # the user agent's log tail

    @property
    def successful(self) -> int:
        """1 when answered and ended by the far end (the SIPp caller's count)."""
        return int(self.answered and not self.we_hung_up and not self.error)

    def summary(self) -> str:
        state = "answered" if self.answered else f"not answered (status {self.status})"
        end = "we hung up" if self.we_hung_up else f"BYE cause={self.cause}"
        return f"recorded {state}, {end}, {len(self.digits)} digits, {self.wav}" + (
            f" error={self.error}" if self.error else ""
        )


def _on_wav_axis(outcome: dict[str, Any], wav: Path, output: str) -> RecordedCall:
    zero = outcome.get("recording_from")

    def rel(t: float | None) -> float | None:
        return None if t is None or zero is None else round(t - zero, 3)

    return RecordedCall(
        wav=wav,
        answered=outcome.get("answered_at") is not None and zero is not None,
        cause=outcome.get("cause"),
        status=int(outcome.get("status") or 0),
        digits=[(d, rel(t) or 0.0) for d, t in outcome.get("digits", [])],
        answered_at=rel(outcome.get("answered_at")),
        ended_at=rel(outcome.get("ended_at")),
        we_hung_up=bool(outcome.get("we_hung_up")),
        error=str(outcome.get("error") or ""),
        output=output,
    )


async def record_call(
    steps: list[Step],
    wav: Path,
    *,
    caller: str,
    called: str,
    target: str | None = None,
    timeout_s: float = 120,
) -> RecordedCall:
    """Call ``called`` from ``caller``, play ``steps``, record to ``wav``."""
    if target is None:
        s = get_settings()
        target = f"{s.bind_address}:{s.sip_port}"
    wav.parent.mkdir(parents=True, exist_ok=True)
    request_path = wav.with_suffix(".request.json")
    result_path = wav.with_suffix(".result.json")
    result_path.unlink(missing_ok=True)
    request = {
        "caller": caller,
        "called": called,
        "target": target,
        "steps": [(s.kind, s.value) for s in steps],
        "wav": str(wav),
        "result": str(result_path),
        "timeout_s": timeout_s,
    }
    request_path.write_text(json.dumps(request))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agi_app.tools.qa.uagent",
        str(request_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(timeout_s + 15):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
    output = out.decode(errors="replace")[-4000:]
    if not result_path.exists():
        error = f"the user agent left no outcome (exit {proc.returncode})"
        return RecordedCall(wav=wav, answered=False, error=error, output=output)
    call = _on_wav_axis(json.loads(result_path.read_text()), wav, output)
    request_path.unlink(missing_ok=True)
    result_path.unlink(missing_ok=True)
    return call

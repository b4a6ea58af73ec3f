"""One call under FastAGI control: the AGI implementation of CallControl.

AGI has no asynchronous DTMF events: a digit that interrupts STREAM FILE is
kept in a small buffer, and waiting for a digit is ``WAIT FOR DIGIT``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence

from agi_app.adapters.fastagi.protocol import quote
from agi_app.adapters.fastagi.server import AgiChannel, AgiRequest
from agi_app.core.callcontrol import CallHangup, DigitBuffer, QueueResult
from agi_app.core.numbers import caller_id
from agi_app.core.speech.protocol import check_sound
from agi_app.core.text import is_ascii_digits

ESCAPE = "0123456789*#"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_PLAIN = re.compile(r"[A-Za-z0-9_.:+-]{0,128}")  # nothing MSet or the dialplan parses


class AgiDigits:
    """DigitSource over AGI: buffered digits first (the call-control DigitBuffer),
    then ``WAIT FOR DIGIT``."""

    def __init__(self, channel: AgiChannel) -> None:
        self._channel = channel
        self._buffer = DigitBuffer()

    def push(self, digit: str) -> None:
        self._buffer.push(digit)

    def unread(self, digit: str) -> None:
        self._buffer.unread(digit)

    def pending(self) -> bool:
        return self._buffer.pending()

    async def next(self, timeout: float) -> str | None:
        buffered = self._buffer.pop_nowait()
        if buffered is not None:
            return buffered
        reply = await self._channel.command(
            f"WAIT FOR DIGIT {int(timeout * 1000)}", timeout_s=timeout + 10
        )
        return chr(reply.result) if reply.result > 0 else None


class AgiCall:
    """CallControl over one FastAGI session."""

    def __init__(self, request: AgiRequest) -> None:
        env = request.env
        self.channel = request.channel
        self.call_id = env.get("uniqueid", "")
        self.caller = caller_id(env.get("callerid", ""))  # untrusted: one printable line
        dnid = env.get("dnid", "")
        self.called = caller_id(
            (request.args[0] if request.args else "")
            or (dnid if dnid not in ("", "unknown") else env.get("extension", ""))
        )
        self._digits = AgiDigits(self.channel)
        self.hangup_cause: int | None = None

    @property
    def digits(self) -> AgiDigits:
        return self._digits

    async def answer(self) -> None:
        await self.channel.command("ANSWER")

    async def play(self, media: Sequence[str], *, barge_in: bool) -> None:
        """Play sounds in order; ValueError, before any is sent, for a name that
        is not a sound name (it would be a second AGI command)."""
        for name in media:
            check_sound(name)
        for name in media:
            if barge_in and self._digits.pending():
                return
            reply = await self.channel.command(
                f"STREAM FILE {name} {quote(ESCAPE if barge_in else '')}"
            )
            if reply.result > 0:
                self._digits.push(chr(reply.result))
                return

    async def set_variables(self, values: Mapping[str, str]) -> None:
        """All in one ``EXEC MSet`` round trip when every name and value is plain
        (MSet splits on commas and strips quotes); else one SET VARIABLE each."""
        if len(values) > 1 and all(
            _NAME.fullmatch(k) and _PLAIN.fullmatch(v) for k, v in values.items()
        ):
            pairs = ",".join(f"{k}={v}" for k, v in values.items())
            if (await self.channel.command(f"EXEC MSet {quote(pairs)}")).result == 0:
                return
        for name, value in values.items():
            await self.channel.set_variable(name, value)

    async def transfer_to_queue(
        self, queue: str, priority: int, timeout_s: int, options: str = ""
    ) -> QueueResult:
        await self.set_variables({"QUEUE_PRIO": str(priority), "AGI_APP_QUEUE": queue})
        app_args = f"{queue},{options or 'c'},,,{timeout_s}"
        await self.channel.command(f"EXEC Queue {quote(app_args)}")
        member = await self.channel.get_variable("MEMBERNAME")
        wait, talk = await self._queue_times()
        if member:
            return QueueResult("ANSWERED", member, wait, talk)
        status = await self.channel.get_variable("QUEUESTATUS") or "UNKNOWN"
        return QueueResult(status, None, wait, None)

    async def _queue_times(self) -> tuple[float | None, float | None]:
        """(wait_s, talk_s) as app_queue leaves them on the caller's channel:
        QUEUEWAIT_MS (in the queue until connected) and ANSWEREDTIME_MS (with the
        agent), read in one round trip. A Dial() to a queue node leaves no
        QUEUEWAIT_MS: there the wait is DIALEDTIME_MS - ANSWEREDTIME_MS."""
        reply = await self.channel.command(
            "GET FULL VARIABLE " + quote("${QUEUEWAIT_MS},${ANSWEREDTIME_MS},${DIALEDTIME_MS}")
        )
        fields = (reply.data if reply.result == 1 else "").split(",")
        wait_ms, talk_ms, dialed_ms = (_ms(f) for f in [*fields, "", "", ""][:3])
        if wait_ms is None and dialed_ms is not None and talk_ms is not None:
            wait_ms = dialed_ms - talk_ms
        talk = talk_ms / 1000 if talk_ms else None  # 0: never answered
        return (None if wait_ms is None else max(0, wait_ms) / 1000), talk

    async def hangup(self, cause: int) -> None:
        self.hangup_cause = cause
        with contextlib.suppress(CallHangup):  # hanging up is the point
            await self.channel.command(f"EXEC Hangup {int(cause)}")


def _ms(text: str) -> int | None:
    """Milliseconds as a channel variable gives them; None when unset or not a number."""
    text = text.strip()
    return int(text) if is_ascii_digits(text) else None

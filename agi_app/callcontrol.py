"""The call-control protocol the flow engine talks to.

Two implementations: ARI (``agi_app.ari.call``) and FastAGI (``agi_app.agi.call``).
Digits pressed at any time are kept in the call's digit buffer, so a digit
pressed during a prompt is never lost; ``play`` with barge-in stops at the first
buffered digit and leaves it in the buffer for the next reader.

Errors: a caller who hangs up surfaces as :class:`CallHangup`, from any method.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class CallHangup(Exception):
    """The caller (or the network) ended the call; the call task unwinds."""


@dataclass(frozen=True)
class QueueResult:
    """How a queue transfer ended, as app_queue's QUEUESTATUS says.

    ``status`` is one of TIMEOUT, FULL, JOINEMPTY, LEAVEEMPTY, JOINUNAVAIL,
    LEAVEUNAVAIL, CONTINUE (answered by an agent, agent hung up first) or
    ANSWERED (our own name for: the caller reached an agent and the call ended).
    """

    status: str
    agent: str | None = None


class DigitBuffer:
    """Digits received but not consumed yet; one per call."""

    def __init__(self) -> None:
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._error: Exception | None = None

    def push(self, digit: str) -> None:
        self._digits.put_nowait(digit)

    def fail(self, error: Exception) -> None:
        """The call is over: every current and later read raises ``error``."""
        self._error = error
        self._digits.put_nowait("")  # wake a reader blocked in next()

    def pending(self) -> bool:
        return not self._digits.empty()

    def clear(self) -> None:
        while not self._digits.empty():
            self._digits.get_nowait()

    def pop_nowait(self) -> str | None:
        if self._error is not None:
            raise self._error
        return None if self._digits.empty() else self._digits.get_nowait()

    async def next(self, timeout: float) -> str | None:
        """The next digit, or None after ``timeout`` seconds."""
        if self._error is not None:
            raise self._error
        if not self._digits.empty():
            return self._digits.get_nowait()
        try:
            async with asyncio.timeout(timeout):
                digit = await self._digits.get()
        except TimeoutError:
            return None
        if self._error is not None:
            raise self._error
        return digit


class DigitSource(Protocol):
    """Where a flow reads the caller's digits (ARI: events; AGI: WAIT FOR DIGIT)."""

    def pending(self) -> bool: ...

    def push(self, digit: str) -> None:
        """Give a digit back (read ahead but not used)."""
        ...

    async def next(self, timeout: float) -> str | None: ...


class CallControl(Protocol):
    """What a flow can do with one call."""

    call_id: str
    caller: str  # raw, untrusted caller id
    called: str  # called number (DNIS)

    @property
    def digits(self) -> DigitSource: ...

    async def answer(self) -> None: ...

    async def play(self, media: Sequence[str], *, barge_in: bool) -> None:
        """Play sounds (paths relative to Asterisk's sound dir, no extension)."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def transfer_to_queue(
        self, queue: str, priority: int, timeout_s: int, options: str = ""
    ) -> QueueResult:
        """Hand the caller to app_queue; return when the caller is back or gone."""
        ...

    async def hangup(self, cause: int) -> None: ...

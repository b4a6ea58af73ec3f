"""The call-control protocol the flow engine talks to.

Two implementations: ARI (``agi_app.adapters.ari.call``) and FastAGI (``agi_app.agi.call``).
Digits pressed at any time are kept in the call's digit buffer, so a digit
pressed during a prompt is never lost; ``play`` with barge-in stops at the first
buffered digit and leaves it in the buffer for the next reader.

Errors: a caller who hangs up surfaces as :class:`CallHangup`, from any method.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class CallHangup(Exception):
    """The caller (or the network) ended the call; the call task unwinds."""


class CallHandedOff(CallHangup):
    """The app let go of the call (it is stopping): the caller is in the dialplan's
    fallback ``context`` now, and the call task unwinds as on a hangup."""

    def __init__(self, call_id: str, context: str) -> None:
        super().__init__(call_id)
        self.context = context


@dataclass(frozen=True)
class QueueResult:
    """How a queue transfer ended, as app_queue's QUEUESTATUS says.

    ``status`` is one of TIMEOUT, FULL, JOINEMPTY, LEAVEEMPTY, JOINUNAVAIL,
    LEAVEUNAVAIL, CONTINUE (answered by an agent, agent hung up first) or
    ANSWERED (our own name for: the caller reached an agent and the call ended).
    """

    status: str
    agent: str | None = None
    # Seconds from joining the queue to an agent's answer (unanswered: to leaving
    # the queue), and from the answer to the end of the agent's call; None where
    # the adapter could not tell.
    wait_s: float | None = None
    talk_s: float | None = None


def queue_times(joined: float, answered: float | None, left: float) -> tuple[float, float | None]:
    """(wait_s, talk_s) from three readings of one monotonic clock: when the
    caller joined the queue, when an agent answered (None: nobody did) and when
    the caller left the queue or the agent."""
    if answered is None:
        return round(max(0.0, left - joined), 3), None
    return round(max(0.0, answered - joined), 3), round(max(0.0, left - answered), 3)


class DigitBuffer:
    """Digits received but not consumed yet; one per call. At most MAX_PENDING
    wait: past that a digit is dropped and counted (a DTMF flood must not grow
    a call's memory; no menu or input reads that far ahead)."""

    MAX_PENDING = 64

    def __init__(self) -> None:
        self._digits: deque[str] = deque()
        self._arrived = asyncio.Event()
        self._error: Exception | None = None
        self.dropped = 0

    def push(self, digit: str) -> None:
        """A digit the caller pressed (arrival order)."""
        if len(self._digits) >= self.MAX_PENDING:
            self.dropped += 1
            return
        self._digits.append(digit)
        self._arrived.set()

    def unread(self, digit: str) -> None:
        """Give back a digit read ahead: it is the next one read."""
        self._digits.appendleft(digit)
        self._arrived.set()

    def fail(self, error: Exception) -> None:
        """The call is over: every current and later read raises ``error``."""
        self._error = error
        self._arrived.set()  # wake a reader blocked in next()

    def pending(self) -> bool:
        return bool(self._digits)

    def clear(self) -> None:
        self._digits.clear()

    def pop_nowait(self) -> str | None:
        if self._error is not None:
            raise self._error
        return self._digits.popleft() if self._digits else None

    async def next(self, timeout: float) -> str | None:
        """The next digit, or None after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not self._digits:
                    if self._error is not None:
                        raise self._error
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            return None
        if self._error is not None:
            raise self._error
        return self._digits.popleft()


class DigitSource(Protocol):
    """Where a flow reads the caller's digits (ARI: events; AGI: WAIT FOR DIGIT)."""

    def pending(self) -> bool: ...

    def unread(self, digit: str) -> None:
        """Give back a digit read ahead but not used: it is the next one read."""
        ...

    async def next(self, timeout: float) -> str | None: ...


class CallControl(Protocol):
    """What a flow can do with one call."""

    call_id: str
    caller: str  # raw, untrusted caller id
    called: str  # called number (DNIS)
    hangup_cause: int | None  # Q.850 cause once the call has ended, if known

    @property
    def digits(self) -> DigitSource: ...

    async def answer(self) -> None: ...

    async def play(self, media: Sequence[str], *, barge_in: bool) -> None:
        """Play sounds (paths relative to Asterisk's sound dir, no extension)."""
        ...

    async def set_variables(self, values: Mapping[str, str]) -> None:
        """Set channel variables, in as few round trips as the protocol allows."""
        ...

    async def transfer_to_queue(
        self, queue: str, priority: int, timeout_s: int, options: str = ""
    ) -> QueueResult:
        """Hand the caller to app_queue; return when the caller is back or gone."""
        ...

    async def hangup(self, cause: int) -> None: ...


class DialError(RuntimeError):
    """Asterisk refused to place a call the hotline makes itself."""


class Dialer(Protocol):
    """Places the calls the hotline makes itself (callbacks) and steers them."""

    async def originate(
        self,
        endpoint: str,
        *,
        caller_id: str,
        timeout_s: int,
        app_args: str,
        channel_id: str,
        variables: dict[str, str],
    ) -> None:
        """Dial ``endpoint``; once answered the channel enters the application
        with ``app_args``. Raises DialError when Asterisk refuses."""
        ...

    async def connect(self, channel_id: str, context: str) -> None:
        """Keep hearing of the channel, and continue it in a dialplan context."""
        ...

    async def hangup(self, channel_id: str, cause: int) -> None: ...

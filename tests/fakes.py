"""Fakes at the edges the flow engine talks to: the call, the prompt renderer, the clock.

``FakeCall`` is a scripted caller. Its script is a list of *moments*: digits the
caller presses, or the caller hanging up, when the N-th ``play`` starts, the
N-th digit wait finds no digit, or the N-th queue transfer starts. Waiting for
a digit that is not there times out at once (the wait is recorded), so a test
never sleeps, and what the caller does is fixed by counted events, not by timing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from agi_app.core.callcontrol import CallHangup, QueueResult
from agi_app.core.controls import Controls, controls_from_rows
from agi_app.core.speech.protocol import CACHED, Prompted

When = Literal["play", "wait", "transfer"]
HANGUP = "hangup"  # a moment's action: the caller hangs up instead of pressing digits
ANSWERED = QueueResult("ANSWERED", "agent1")


@dataclass(frozen=True)
class Played:
    media: list[str]
    barge_in: bool
    interrupted: bool  # barge-in: a digit was pending, the prompt stopped at once


@dataclass(frozen=True)
class Transferred:
    queue: str
    priority: int
    timeout_s: int


class FakeDigits:
    """DigitSource whose waits time out at once unless the script delivers a digit."""

    def __init__(self, call: FakeCall) -> None:
        self._call = call
        self.buffer: deque[str] = deque()
        self.timeouts: list[float] = []  # the waits that expired, by their timeout

    def pending(self) -> bool:
        return bool(self.buffer)

    def unread(self, digit: str) -> None:
        """A digit given back (read ahead, not used) is the next one read."""
        self.buffer.appendleft(digit)

    async def next(self, timeout: float) -> str | None:
        self._call.check()
        if not self.buffer:
            self._call.moment("wait")
        if self.buffer:
            return self.buffer.popleft()
        self.timeouts.append(timeout)
        return None


class FakeCall:
    """CallControl for one scripted caller; records what the flow did to the call."""

    def __init__(
        self,
        script: Sequence[tuple[When, int, str]] = (),
        *,
        queue_result: QueueResult = ANSWERED,
        caller: str = "+8613800138000",
        called: str = "100",
        caller_hangup_cause: int = 16,
        call_id: str = "call-1",
    ) -> None:
        self.call_id = call_id
        self.caller = caller
        self.called = called
        self.script = list(script)
        self.queue_result = queue_result
        self.caller_hangup_cause = caller_hangup_cause
        self._digits = FakeDigits(self)
        self.counts: dict[When, int] = {"play": 0, "wait": 0, "transfer": 0}
        self.answered = False
        self.plays: list[Played] = []
        self.variables: dict[str, str] = {}
        self.transfers: list[Transferred] = []
        self.hangup_cause: int | None = None
        self.gone = False

    @property
    def digits(self) -> FakeDigits:
        return self._digits

    def check(self) -> None:
        if self.gone:
            raise CallHangup(self.call_id)

    def moment(self, when: When) -> None:
        """Count one ``when`` event and act out what the script says happens then."""
        self.counts[when] += 1
        for at, n, action in self.script:
            if at != when or n != self.counts[when]:
                continue
            if action == HANGUP:
                self.gone = True
                self.hangup_cause = self.caller_hangup_cause
                raise CallHangup(self.call_id)
            self._digits.buffer.extend(action)

    @property
    def media(self) -> list[str]:
        """Every sound name played, in order."""
        return [name for p in self.plays for name in p.media]

    async def answer(self) -> None:
        self.check()
        self.answered = True

    async def play(self, media: Sequence[str], *, barge_in: bool) -> None:
        self.check()
        self.moment("play")
        interrupted = barge_in and self._digits.pending()
        self.plays.append(Played(list(media), barge_in, interrupted))

    async def set_variables(self, values: Mapping[str, str]) -> None:
        self.check()
        self.variables.update(values)

    async def transfer_to_queue(
        self, queue: str, priority: int, timeout_s: int, options: str = ""
    ) -> QueueResult:
        self.check()
        self.transfers.append(Transferred(queue, priority, timeout_s))
        self.moment("transfer")
        return self.queue_result

    async def hangup(self, cause: int) -> None:
        if self.gone:
            return
        self.hangup_cause = cause
        self.gone = True


class FakeRenderer:
    """PromptRenderer that names each text instead of rendering audio."""

    def __init__(self) -> None:
        self.rendered: list[tuple[str, str]] = []  # (text, language)

    async def media_for(self, text: str, language: str) -> str:
        self.rendered.append((text, language))
        return f"fake/{language}/{text}"

    async def prompt(self, text: str, language: str) -> Prompted:
        return Prompted(await self.media_for(text, language), CACHED)

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self.rendered]


class FixedClock:
    """Clock that says whatever time the test sets."""

    def __init__(self, when: datetime) -> None:
        self.when = when

    def now(self) -> datetime:
        return self.when


class LoopWatch:
    """Counts 10 ms event-loop turns: a spinning loop starves it."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    def stop(self) -> int:
        self._task.cancel()
        return self.ticks


class MemoryControlStore:
    """ControlStore (service.controls) in memory, with the same audit lines as
    PostgreSQL's: the fake at the store's edge."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.audit_lines: list[dict[str, Any]] = []
        self.fail = False  # the database is down
        self.loads = 0  # reads, failed ones included

    def _check(self) -> None:
        if self.fail:
            raise ConnectionError("database down")

    async def load(self) -> Controls:
        self.loads += 1
        self._check()
        return controls_from_rows([(k, s, b) for (k, s), b in self.rows.items()])

    async def put(
        self, kind: str, scope: str, body: dict[str, Any], expires_at: datetime | None, who: str
    ) -> dict[str, Any] | None:
        self._check()
        before = self.rows.get((kind, scope))
        self.rows[(kind, scope)] = body
        self.audit_lines.append(
            {
                "at": "",
                "who": who,
                "action": "set",
                "kind": kind,
                "scope": scope,
                "before": before,
                "after": body,
            }
        )
        return before

    async def clear(self, kind: str, scope: str, who: str) -> dict[str, Any] | None:
        self._check()
        before = self.rows.pop((kind, scope), None)
        if before is not None:
            self.audit_lines.append(
                {
                    "at": "",
                    "who": who,
                    "action": "clear",
                    "kind": kind,
                    "scope": scope,
                    "before": before,
                    "after": None,
                }
            )
        return before

    async def audit(self, limit: int = 50) -> list[dict[str, Any]]:
        return list(reversed(self.audit_lines))[:limit]

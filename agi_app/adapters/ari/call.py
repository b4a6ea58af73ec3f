"""One call under ARI control: the ARI implementation of CallControl.

Events for the channel are applied by ``on_event`` in arrival order (the
websocket reader calls it synchronously). A hangup fails the digit buffer and
every pending wait with CallHangup, so it surfaces in the call's task as one
exception type.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Mapping, Sequence

from agi_app.adapters.ari.events import (
    ChannelGoneEvent,
    Dtmf,
    EnteredBridge,
    Event,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
    VarSet,
)
from agi_app.adapters.ari.rest import AriError, AriRest, ChannelGone
from agi_app.core.callcontrol import (
    CallHandedOff,
    CallHangup,
    DigitBuffer,
    QueueResult,
    queue_times,
)
from agi_app.core.metrics import METRICS
from agi_app.core.numbers import caller_id
from agi_app.core.speech.protocol import check_sound

log = logging.getLogger(__name__)

QUEUE_CONTEXT = "hotline-queue"
AGENT_VAR = "MEMBERNAME"
_QUEUE_ARG = re.compile(r"[A-Za-z0-9_]*")


def queue_extension(queue: str, priority: int, timeout_s: int, options: str) -> str | None:
    """The queue step's parameters as one extension of [hotline-queue]
    (``Q<prio>,<timeout>,<options>,<queue>``, split there by ARRAY()): one
    ``continue`` instead of four variable requests first. None when a value
    could not travel in an extension (then the variables are set)."""
    if not (_QUEUE_ARG.fullmatch(queue) and _QUEUE_ARG.fullmatch(options)):
        return None
    extension = f"Q{int(priority)},{int(timeout_s)},{options},{queue}"
    return extension if len(extension) <= 79 else None  # AST_MAX_EXTENSION - 1


_RUN = uuid.uuid4().hex[:8]


class AriCall:
    """CallControl over ARI for one channel."""

    def __init__(
        self,
        rest: AriRest,
        channel_id: str,
        caller: str,
        called: str,
        *,
        answered: bool = False,
        queue_in_extension: bool = True,
    ) -> None:
        self.rest = rest
        self.queue_in_extension = queue_in_extension
        # Answered in the dialplan before Stasis() (dialplan/10-hotline.conf, when
        # the app set AGI_APP_ANSWER): ``answer`` then sends no request.
        self.answered = answered
        self.call_id = channel_id
        self.caller = caller_id(caller)  # untrusted: one printable line, bounded
        self.called = caller_id(called)
        self.digits = DigitBuffer()
        self.hangup_cause: int | None = None
        self.agent: str | None = None
        self.reached_agent = False
        # When the agent of the current queue transfer answered (time.monotonic()):
        # the caller's channel enters the agent's bridge, or MEMBERNAME is set.
        self.answered_at: float | None = None
        self._gone = asyncio.Event()
        self._why = CallHangup(channel_id)  # raised once gone: a hangup, or a hand-off
        self._playbacks: dict[str, asyncio.Future[bool]] = {}  # True: cut by a digit
        self._barge: asyncio.Future[bool] | None = None  # the prompt a digit cuts
        self.in_dialplan = False  # continued into the dialplan (a queue): subscribed
        self._back: asyncio.Future[str] | None = None
        self._last_dtmf_at: float | None = None
        # Playback ids: unique per process run and call, no uuid4 per prompt.
        self._play_prefix = f"{_RUN}-{channel_id}"
        self._plays = 0
        self._side_tasks: set[asyncio.Future[None]] = set()
        self._agent_read: asyncio.Future[None] | None = None

    # --- events -------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Apply one event for this channel (never blocks)."""
        if isinstance(event, Dtmf):
            self._last_dtmf_at = time.perf_counter()
            self.digits.push(event.digit)
            if self._barge is not None and not self._barge.done():
                self._barge.set_result(True)
        elif isinstance(event, PlaybackFinished):
            fut = self._playbacks.pop(event.playback_id, None)
            if fut is not None and not fut.done():
                fut.set_result(False)
        elif isinstance(event, ChannelGoneEvent):
            if event.cause is not None and self.hangup_cause is None:
                self.hangup_cause = event.cause
            self._mark_gone()
        elif isinstance(event, StasisEnd):
            if not self.in_dialplan:
                self._mark_gone()
        elif isinstance(event, StasisStart):
            self.in_dialplan = False
            # Back from the queue: Stasis(app,after-queue,QUEUESTATUS,MEMBERNAME).
            self._note_agent(event.args[2] if len(event.args) > 2 else "")
            status = event.args[1] if len(event.args) > 1 else ""
            if self._back is not None and not self._back.done():
                self._back.set_result(status)
        elif isinstance(event, EnteredBridge):
            self._agent_answered()
            if self.agent is None and self._agent_read is None:
                self._agent_read = asyncio.ensure_future(self._read_agent())
        elif isinstance(event, VarSet) and event.name == AGENT_VAR:
            self._note_agent(event.value)

    def _note_agent(self, name: str) -> None:
        # app_queue sets MEMBERNAME (setinterfacevar=yes) only once an agent answered.
        if name:
            self.agent = name
            self._agent_answered()

    def _agent_answered(self) -> None:
        self.reached_agent = True
        if self.answered_at is None and self.in_dialplan:
            self.answered_at = time.monotonic()

    async def _read_agent(self) -> None:
        """MEMBERNAME once the caller is bridged (app_queue set it just before):
        read here rather than taken from ChannelVarset events, which every call
        would pay for. ARI reads a queued channel's variables (it cannot control it)."""
        try:
            self._note_agent(await self.rest.get_var(self.call_id, AGENT_VAR))
        except (AriError, OSError) as exc:  # gone already: the agent stays unknown
            log.debug("call %s: reading %s: %s", self.call_id, AGENT_VAR, exc)

    def _mark_gone(self, why: CallHangup | None = None) -> None:
        if self._gone.is_set():
            return
        self._gone.set()
        self._why = why or CallHangup(self.call_id)
        self.digits.fail(self._why)
        for fut in [*self._playbacks.values(), self._back]:
            if fut is not None and not fut.done():
                fut.set_exception(self._why)
        self._playbacks.clear()

    @property
    def gone(self) -> bool:
        return self._gone.is_set()

    def _check(self) -> None:
        if self._gone.is_set():
            raise self._why

    async def hand_off(self, context: str) -> bool:
        """Let go of the call (the app is stopping): the caller continues in the
        dialplan at ``context`` (a caller waiting in a queue stays there), and the
        call's task unwinds with CallHandedOff. False if the call had ended."""
        if self._gone.is_set():
            return False
        if not self.in_dialplan:
            try:
                await self.rest.continue_in_dialplan(self.call_id, context)
            except (AriError, OSError) as exc:
                log.warning("call %s: hand-off to %s failed: %s", self.call_id, context, exc)
                return False
        self._mark_gone(CallHandedOff(self.call_id, "queue" if self.in_dialplan else context))
        return True

    # --- CallControl ----------------------------------------------------------
    async def answer(self) -> None:
        self._check()
        if self.answered:
            return
        try:
            await self.rest.answer(self.call_id)
        except ChannelGone as exc:
            self._mark_gone()
            raise CallHangup(self.call_id) from exc
        self.answered = True

    async def play(self, media: Sequence[str], *, barge_in: bool) -> None:
        """Play sounds in order; with barge-in stop at the first digit. ValueError
        for a name that is not a sound name (a comma would add a sound)."""
        self._check()
        for name in media:
            check_sound(name)
        if not media or (barge_in and self.digits.pending()):
            return
        self._plays += 1
        playback_id = f"{self._play_prefix}-{self._plays}"
        # Resolved by PlaybackFinished, or (barge-in) by the caller's first digit.
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._playbacks[playback_id] = done
        self._barge = done if barge_in else None
        self._note_dtmf_latency()
        try:
            await self.rest.play(self.call_id, [f"sound:{m}" for m in media], playback_id)
            barged = await done  # raises CallHangup when the call ended mid-prompt
        except ChannelGone as exc:
            self._mark_gone()
            raise CallHangup(self.call_id) from exc
        finally:
            self._barge = None
        if barged:
            # Barge-in: ARI does not stop playback on DTMF by itself. The stop is
            # not awaited: the caller's next prompt should not wait for a round
            # trip, and it cannot be cut by this stop (which names the old
            # playback; ARI queues a new one behind it until it stops).
            self._playbacks.pop(playback_id, None)
            self.rest.stop_playback_soon(playback_id, self._side_tasks)

    def _note_dtmf_latency(self) -> None:
        if self._last_dtmf_at is not None:
            METRICS.observe("dtmf_to_play_ms", (time.perf_counter() - self._last_dtmf_at) * 1000)
            self._last_dtmf_at = None

    async def set_variables(self, values: Mapping[str, str]) -> None:
        """One request a variable: ARI sets one at a time."""
        self._check()
        try:
            for name, value in values.items():
                await self.rest.set_var(self.call_id, name, value)
        except ChannelGone as exc:
            self._mark_gone()
            raise CallHangup(self.call_id) from exc

    async def transfer_to_queue(
        self, queue: str, priority: int, timeout_s: int, options: str = ""
    ) -> QueueResult:
        """Continue into the queue context; wait until the caller is back or gone."""
        self._check()
        extension = queue_extension(queue, priority, timeout_s, options)
        if not (self.queue_in_extension and extension):
            extension = "s"
            await self.set_variables(
                {
                    "AGI_APP_QUEUE": queue,
                    "QUEUE_PRIO": str(priority),
                    "AGI_APP_QUEUE_TIMEOUT": str(timeout_s),
                    "AGI_APP_QUEUE_OPTIONS": options,
                }
            )
        self._back = asyncio.get_running_loop().create_future()
        self.answered_at = None
        try:
            await self.rest.subscribe_channel(self.call_id)
            self.in_dialplan = True
            joined = time.monotonic()
            await self.rest.continue_in_dialplan(self.call_id, QUEUE_CONTEXT, extension)
        except ChannelGone as exc:
            self._back = None  # nobody waits for it: the hangup is raised here
            self._mark_gone()
            raise CallHangup(self.call_id) from exc
        try:
            status = await self._back
        except CallHangup:
            if self.reached_agent:
                return await self._answered(joined)
            raise
        if self.reached_agent:  # the agent hung up first; the caller is back with us
            return await self._answered(joined)
        return self._result(status or "UNKNOWN", joined, time.monotonic())

    async def _answered(self, joined: float) -> QueueResult:
        ended = time.monotonic()
        await self._agent_known()
        return self._result("ANSWERED", joined, ended)

    def _result(self, status: str, joined: float, ended: float) -> QueueResult:
        wait, talk = queue_times(joined, self.answered_at, ended)
        return QueueResult(status, self.agent, wait, talk)

    async def _agent_known(self, timeout_s: float = 2.0) -> None:
        """Wait for the agent's name being read (it was sent when the caller was bridged)."""
        if self._agent_read is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._agent_read), timeout_s)

    async def hangup(self, cause: int) -> None:
        if self._gone.is_set():
            return
        self.hangup_cause = cause
        with contextlib.suppress(ChannelGone):
            await self.rest.hangup(self.call_id, cause)
        self._mark_gone()

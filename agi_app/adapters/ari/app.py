"""The ARI application: one tracked task per call, admission control, reconcile.

Per-call tasks are tracked in a dict, not a TaskGroup, so one failing call
cannot cancel the others. A StasisStart whose first argument is
``after-queue``/``after-callback`` is a caller coming back from the dialplan
and goes to the call that is already running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from agi_app.adapters.ari.call import AriCall
from agi_app.adapters.ari.events import ChannelGoneEvent, ChannelInfo, Event, StasisStart
from agi_app.adapters.ari.rest import AriError, AriRest
from agi_app.adapters.ari.stream import AriEventStream
from agi_app.adapters.ari.wsconn import WsClient
from agi_app.core.metrics import METRICS

log = logging.getLogger(__name__)

RETURN_ARGS = ("after-queue", "after-callback")
MAX_CALLS_VAR = "AGI_APP_MAX_CALLS"
ANSWER_VAR = "AGI_APP_ANSWER"
# Set to 1 while the app stops: dialplan/10-hotline.conf then sends new calls to
# the static menu before Stasis; 0 again when an app connects.
DRAINING_VAR = "AGI_APP_DRAINING"
PER_SOURCE_VAR = "AGI_APP_MAX_CALLS_PER_SOURCE"  # the dialplan's guard against floods
FALLBACK_CONTEXT = "hotline-static"  # where calls go when the app lets go of them
Serve = Callable[[AriCall, tuple[str, ...]], Awaitable[None]]


class Admission:
    """Concurrent-call limit plus an optional token-bucket rate limit."""

    def __init__(self, max_calls: int, rate_per_s: float, per_source: int = 0) -> None:
        self.max_calls = max_calls
        self.rate = rate_per_s
        self.per_source = per_source  # enforced by the dialplan (10-hotline.conf)
        self._tokens = max(rate_per_s, 1.0)
        self._stamp: float | None = None

    def admit(self, active: int, now: float) -> bool:
        if active >= self.max_calls:
            return False
        if self.rate <= 0:
            return True
        elapsed = 0.0 if self._stamp is None else max(0.0, now - self._stamp)
        self._tokens = min(max(self.rate, 1.0), self._tokens + elapsed * self.rate)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class AriApplication:
    """Receives ARI events and runs ``serve`` once per new call."""

    def __init__(
        self,
        rest: AriRest,
        serve: Serve,
        admission: Admission,
        refuse_cause: int = 17,
        *,
        rest_over_ws: bool = True,
        event_filter: bool = True,
        varset_events: bool = False,
        ws_client: WsClient = "picows",
        answer_in_dialplan: bool = False,
        queue_in_extension: bool = True,
        side_channels: Callable[[str], bool] = lambda _c: False,
        on_side_event: Callable[[Event], None] = lambda _e: None,
    ) -> None:
        self.rest = rest
        self._serve = serve
        self._admission = admission
        self._refuse_cause = refuse_cause
        # The dialplan answers before Stasis() only while every refusal of the
        # app's own is a concurrency one the dialplan makes first (busy, not
        # answered): with a rate limit, the app refuses calls it never answers.
        self.answer_in_dialplan = answer_in_dialplan and admission.rate <= 0
        self.queue_in_extension = queue_in_extension
        self.calls: dict[str, AriCall] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.stream = AriEventStream(
            rest,
            self.on_event,
            self.on_connected,
            rest_over_ws=rest_over_ws,
            event_filter=event_filter,
            varset_events=varset_events,
            ws_client=ws_client,
        )
        self.on_refused: Callable[[ChannelInfo], None] = lambda _c: None
        # Channels the app dialled itself (callbacks) are handled elsewhere.
        self.side_channels = side_channels
        self.on_side_event = on_side_event
        self.draining = False  # stopping: new calls go to the dialplan's fallback

    # --- events -----------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        channel_id = event.channel.id if isinstance(event, StasisStart) else event.channel_id
        if self.side_channels(channel_id):
            self.on_side_event(event)
            return
        if isinstance(event, StasisStart):
            existing = self.calls.get(event.channel.id)
            if existing is not None:
                existing.on_event(event)
            elif event.args[:1] and event.args[0] in RETURN_ARGS:
                log.warning("call %s came back but is unknown; hanging up", event.channel.id)
                self._spawn_hangup(event.channel.id, 16)
            else:
                self._new_call(event.channel, event.args)
            return
        call = self.calls.get(event.channel_id)
        if call is not None:
            call.on_event(event)

    def _new_call(self, channel: ChannelInfo, args: tuple[str, ...]) -> None:
        if self.draining:  # came in before the dialplan saw AGI_APP_DRAINING
            log.info("stopping: call %s goes to %s", channel.id, FALLBACK_CONTEXT)
            self._spawn(f"fallback-{channel.id}", self._to_fallback(channel.id))
            return
        if not self._admission.admit(len(self.calls), time.monotonic()):
            METRICS.count("calls_refused")
            log.warning("admission: refusing %s (%d active)", channel.id, len(self.calls))
            self.on_refused(channel)
            self._spawn_hangup(channel.id, self._refuse_cause)
            return
        called = args[0] if args and args[0] else channel.exten
        call = AriCall(
            self.rest,
            channel.id,
            channel.caller,
            called,
            answered=channel.state == "Up",
            queue_in_extension=self.queue_in_extension,
        )
        self.calls[channel.id] = call
        task = asyncio.create_task(self._run(call, args), name=f"call-{channel.id}")
        self.tasks[channel.id] = task

    async def _run(self, call: AriCall, args: tuple[str, ...]) -> None:
        try:
            await self._serve(call, args)
        except asyncio.CancelledError:
            raise
        except Exception:  # the boundary of one call: log it and end that call only
            log.exception("call %s failed", call.call_id)
            await call.hangup(41)  # temporary failure
        finally:
            self.calls.pop(call.call_id, None)
            self.tasks.pop(call.call_id, None)
            if call.reached_agent or call.in_dialplan:
                await self.rest.unsubscribe_channel(call.call_id)

    def _spawn_hangup(self, channel_id: str, cause: int) -> None:
        async def hang() -> None:
            with contextlib.suppress(AriError):
                await self.rest.hangup(channel_id, cause)

        self._spawn(f"hangup-{channel_id}", hang())

    def _spawn(self, name: str, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(job)
        self.tasks[name] = task
        task.add_done_callback(lambda _t: self.tasks.pop(name, None))

    async def _to_fallback(self, channel_id: str) -> None:
        try:
            await self.rest.continue_in_dialplan(channel_id, FALLBACK_CONTEXT)
        except (AriError, OSError) as exc:
            log.warning("stopping: call %s not sent to the fallback: %s", channel_id, exc)

    # --- graceful stop ------------------------------------------------------------
    async def stop_admitting(self) -> None:
        """New calls go to the dialplan's fallback from now on (the app stops)."""
        self.draining = True
        try:
            await self.rest.set_global(DRAINING_VAR, "1")
        except (AriError, OSError) as exc:
            log.warning(
                "could not set %s: %s (the app still sends new calls away)", DRAINING_VAR, exc
            )

    async def hand_off_all(self) -> int:
        """Every call still in a flow goes to the dialplan's fallback; how many did."""
        calls = list(self.calls.values())
        done = await asyncio.gather(*(c.hand_off(FALLBACK_CONTEXT) for c in calls))
        return sum(done)

    # --- reconnect ----------------------------------------------------------------
    async def on_connected(self, reconnect: bool) -> None:
        """Tell the dialplan the call limit and whether to answer; reconcile: end
        calls that vanished, adopt orphans."""
        try:
            # dialplan/10-hotline.conf refuses calls over this before Stasis (cheaply).
            await self.rest.set_global(MAX_CALLS_VAR, str(self._admission.max_calls))
            # ... and answers before Stasis: one ARI request (a blocking one) less per call.
            await self.rest.set_global(ANSWER_VAR, "1" if self.answer_in_dialplan else "0")
            await self.rest.set_global(DRAINING_VAR, "1" if self.draining else "0")
            await self.rest.set_global(PER_SOURCE_VAR, str(self._admission.per_source))
        except (AriError, OSError) as exc:
            log.warning("could not set the dialplan's globals: %s (the app still refuses)", exc)
        try:
            channels = await self.rest.channels()
        except (AriError, OSError) as exc:
            log.warning("reconcile: GET /channels failed: %s", exc)
            return
        present = {str(ch.get("id")) for ch in channels}
        for channel_id in [c for c in self.calls if c not in present]:
            log.warning("reconcile: call %s vanished while disconnected", channel_id)
            self.calls[channel_id].on_event(ChannelGoneEvent(channel_id, None))
        for ch in channels:
            channel_id = str(ch.get("id"))
            if channel_id in self.calls or not _in_our_app(ch, self.rest.app):
                continue
            info = ChannelInfo.from_json(ch)
            if self.side_channels(channel_id):  # a callback: its owner decides
                self.on_side_event(StasisStart(info, _stasis_args(ch)))
                continue
            log.warning("reconcile: adopting orphan channel %s", channel_id)
            self._new_call(info, ())

    async def run(self) -> None:
        await self.stream.run()

    async def drain(self, timeout: float) -> None:
        """Wait for running calls to end (graceful stop)."""
        pending = [t for t in self.tasks.values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)


def _stasis_args(ch: dict[str, Any]) -> tuple[str, ...]:
    """The arguments a channel entered Stasis with (``app,arg1,arg2``)."""
    data = str((ch.get("dialplan") or {}).get("app_data", ""))
    return tuple(data.split(",")[1:])


def _in_our_app(ch: dict[str, Any], app: str) -> bool:
    dialplan = ch.get("dialplan") or {}
    return (
        dialplan.get("app_name") == "Stasis"
        and str(dialplan.get("app_data", "")).split(",")[0] == app
    )

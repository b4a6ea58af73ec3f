"""The Dialer (core.callcontrol) over ARI, and the events of dialled channels.

The ARI application hands every event of a channel the callback worker owns to
``side_event``, which tells the worker in plain terms (started, gone).
"""

from __future__ import annotations

from typing import Protocol

from agi_app.adapters.ari.events import ChannelGoneEvent, Event, StasisStart
from agi_app.adapters.ari.rest import AriError, AriRest
from agi_app.core.callcontrol import DialError


class DialledChannels(Protocol):
    def on_started(self, channel_id: str, args: tuple[str, ...]) -> None: ...

    def on_gone(self, channel_id: str, cause: int | None) -> None: ...


class AriDialer:
    """Originate, subscribe-and-continue, hang up: the three things a callback needs."""

    def __init__(self, rest: AriRest) -> None:
        self.rest = rest

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
        try:
            await self.rest.originate(
                endpoint,
                caller_id=caller_id,
                timeout_s=timeout_s,
                app_args=app_args,
                channel_id=channel_id,
                variables=variables,
            )
        except AriError as exc:
            raise DialError(str(exc)) from exc

    async def connect(self, channel_id: str, context: str) -> None:
        await self.rest.subscribe_channel(channel_id)
        await self.rest.continue_in_dialplan(channel_id, context)

    async def hangup(self, channel_id: str, cause: int) -> None:
        await self.rest.hangup(channel_id, cause)


def side_event(event: Event, owner: DialledChannels) -> None:
    """One ARI event of a dialled channel, told to its owner."""
    if isinstance(event, StasisStart):
        owner.on_started(event.channel.id, event.args)
    elif isinstance(event, ChannelGoneEvent):
        owner.on_gone(event.channel_id, event.cause)

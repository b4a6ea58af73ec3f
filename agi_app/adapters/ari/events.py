"""Typed views of the ARI events the application uses.

Everything else is ignored at the edge (``parse`` returns None), so per-call
code only ever sees these shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: str
    name: str
    caller: str
    exten: str
    state: str

    @classmethod
    def from_json(cls, ch: dict[str, Any]) -> ChannelInfo:
        caller = ch.get("caller") or {}
        dialplan = ch.get("dialplan") or {}
        return cls(
            id=str(ch.get("id", "")),
            name=str(ch.get("name", "")),
            caller=str(caller.get("number", "")),
            exten=str(dialplan.get("exten", "")),
            state=str(ch.get("state", "")),
        )


@dataclass(frozen=True, slots=True)
class StasisStart:
    channel: ChannelInfo
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StasisEnd:
    channel_id: str


@dataclass(frozen=True, slots=True)
class Dtmf:
    channel_id: str
    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    channel_id: str
    playback_id: str


@dataclass(frozen=True, slots=True)
class ChannelGoneEvent:
    """ChannelHangupRequest or ChannelDestroyed."""

    channel_id: str
    cause: int | None


@dataclass(frozen=True, slots=True)
class EnteredBridge:
    channel_id: str


@dataclass(frozen=True, slots=True)
class VarSet:
    channel_id: str
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class StateChange:
    channel_id: str
    state: str


Event = (
    StasisStart
    | StasisEnd
    | Dtmf
    | PlaybackFinished
    | ChannelGoneEvent
    | EnteredBridge
    | VarSet
    | StateChange
)


# The application's event filter: what Asterisk sends us. ``parse`` still knows
# ChannelHangupRequest, ChannelStateChange and ChannelVarset (sent when the
# filter could not be set), but they are not needed: StasisEnd and
# ChannelDestroyed (with the final cause) follow every hang-up, and the agent's
# name (MEMBERNAME) is read once the caller is bridged, or comes back as a
# Stasis() argument (dialplan/20-queues.conf). ChannelVarset was five of a
# call's twelve events (chan_pjsip's RTPAUDIOQOS* at hang-up); ``event_types``
# adds it back.
USED_TYPES = (
    "StasisStart",
    "StasisEnd",
    "ChannelDtmfReceived",
    "PlaybackFinished",
    "ChannelDestroyed",
    "ChannelEnteredBridge",
    "RESTResponse",
)


def event_types(varset: bool) -> tuple[str, ...]:
    """The event filter: USED_TYPES, with ChannelVarset when ``varset``."""
    return (*USED_TYPES, "ChannelVarset") if varset else USED_TYPES


def _chan(msg: dict[str, Any]) -> str:
    return str((msg.get("channel") or {}).get("id", ""))


def parse(msg: dict[str, Any]) -> Event | None:
    """The typed event for an ARI message, or None for events we do not use."""
    kind = msg.get("type")
    if kind == "StasisStart":
        return StasisStart(
            ChannelInfo.from_json(msg.get("channel") or {}),
            tuple(str(a) for a in msg.get("args") or ()),
        )
    if kind == "ChannelDtmfReceived":
        return Dtmf(_chan(msg), str(msg.get("digit", "")))
    if kind == "PlaybackFinished":
        playback = msg.get("playback") or {}
        target = str(playback.get("target_uri", ""))
        return PlaybackFinished(target.removeprefix("channel:"), str(playback.get("id", "")))
    if kind in ("ChannelHangupRequest", "ChannelDestroyed"):
        cause = msg.get("cause")
        return ChannelGoneEvent(_chan(msg), int(cause) if isinstance(cause, int) else None)
    if kind == "StasisEnd":
        return StasisEnd(_chan(msg))
    if kind == "ChannelEnteredBridge":
        return EnteredBridge(_chan(msg))
    if kind == "ChannelVarset" and msg.get("channel"):
        return VarSet(_chan(msg), str(msg.get("variable", "")), str(msg.get("value", "")))
    if kind == "ChannelStateChange":
        return StateChange(_chan(msg), str((msg.get("channel") or {}).get("state", "")))
    return None

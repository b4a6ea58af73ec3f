"""The AGI wire protocol: the request header, replies, safe arguments.

Errors:
    AgiProtocolError   the peer sent something that is not AGI (garbage,
                       an over-long line, a header that never ends)
    CallHangup         (from agi_app.core.callcontrol) the channel hung up: a
                       ``HANGUP`` line, ``result=-1``, or 511 (dead channel)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

MAX_HEADER_LINES = 128
MAX_QUERY = 1024
HEADER_LINE = re.compile(r"^agi_([a-z_0-9]+):\s?(.*)$")
REPLY = re.compile(r"^(\d{3})(?: result=(-?\d+)(?: \((.*)\))?(?: endpos=(\d+))?)?")


class AgiProtocolError(ValueError):
    """The peer does not speak AGI."""


@dataclass(frozen=True)
class AgiReply:
    code: int
    result: int
    data: str = ""

    @property
    def value(self) -> str:
        return self.data


def parse_header_line(line: str) -> tuple[str, str]:
    m = HEADER_LINE.match(line)
    if not m:
        raise AgiProtocolError(f"not an AGI header line: {line[:40]!r}")
    return m.group(1), m.group(2)


def parse_reply(line: str) -> AgiReply:
    m = REPLY.match(line)
    if not m:
        raise AgiProtocolError(f"not an AGI reply: {line[:60]!r}")
    return AgiReply(int(m.group(1)), int(m.group(2) or 0), m.group(3) or "")


def split_script(script: str) -> tuple[str, dict[str, str]]:
    """``flow?x=1`` -> ("flow", {"x": "1"}); size-limited (untrusted)."""
    parts = urlsplit("agi://h/" + script.lstrip("/"))
    query = parts.query[:MAX_QUERY]
    return parts.path.strip("/"), dict(parse_qsl(query, keep_blank_values=True))


def quote(value: str) -> str:
    """One AGI argument: quoted, no line breaks (they would start a new command)."""
    clean = value.replace("\r", " ").replace("\n", " ").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{clean}"'

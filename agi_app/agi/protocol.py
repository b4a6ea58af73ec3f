"""The AGI wire protocol as pure functions: header lines, request script, replies,
command lines. No I/O here; ``agi_app.agi.channel`` reads and writes.

What Asterisk's res_agi does that these functions guard against:

- It reads one command per line into a 2048-byte buffer; a longer line is cut
  and the rest runs as a second command. ``encode_command`` refuses such lines
  and any control character (a newline would start a second command).
- It splits a command into words like a shell: spaces separate, ``"`` quotes,
  ``\\`` escapes the next character. ``quote`` relies on exactly that.
- A channel that hangs up gets ``HANGUP`` sent unsolicited (AGISIGHUP), then
  ``511`` for commands not allowed on a dead channel; most commands answer
  ``200 result=-1`` when the channel is gone. ``parse_reply`` turns all three
  into CallHangup. (A STREAM FILE of a missing file also answers
  ``result=-1``: for AGI a missing prompt ends the call.)
- ``510`` (unknown command) and ``520`` (usage; multi-line ``520-`` ... ``520 End
  of proper usage.``) become AgiCommandError.

Errors: see ``agi_app.agi.errors``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from agi_app.agi.errors import AgiCommandError, AgiProtocolError, AgiUnsafeCommand
from agi_app.callcontrol import CallHangup

MAX_COMMAND_BYTES = 2047  # res_agi's AGI_BUF_LEN (2048) minus the terminating NUL, newline included
MAX_REPLY_LINES = 200  # a 520 usage text is a few dozen lines
MAX_ARGS = 64  # agi_arg_N kept (res_agi passes at most 127)

_ENV_LINE = re.compile(rb"^agi_([a-z0-9_]{1,64}): ?(.*?)\r?\n$", re.DOTALL)
_REPLY_200 = re.compile(
    r"^200 result=(?P<result>[^\s(]*)(?: \((?P<data>.*)\))?(?: endpos=(?P<endpos>-?\d+))?\s*$"
)
_ROUTE = re.compile(r"^[A-Za-z0-9_.\-/]{0,64}$")
_BARE = re.compile(r"^[A-Za-z0-9_.\-/:@+*#=]+$")  # needs no quoting: no space, quote, backslash
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.()\-:,]{0,79}$")  # variable or function name
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_USAGE_END = "520 End of proper usage."


@dataclass(frozen=True)
class EnvLimits:
    """Bounds on the request header (everything in it is untrusted until parsed)."""

    max_lines: int = 256
    max_line_bytes: int = 8192
    max_bytes: int = 65536
    max_query_chars: int = 1024
    max_query_fields: int = 32


def parse_env_line(raw: bytes) -> tuple[str, str] | None:
    """One header line, newline included: ``(key, value)``, or None for the blank end line.

    The key keeps its ``agi_`` prefix, as Asterisk sent it.
    """
    if raw in (b"\n", b"\r\n"):
        return None
    m = _ENV_LINE.match(raw)
    if m is None:
        raise AgiProtocolError(f"not an AGI header line: {raw[:40]!r}")
    key = "agi_" + m.group(1).decode("ascii")
    return key, m.group(2).decode("utf-8", errors="replace")


def script_from_env(env: Mapping[str, str]) -> str:
    """The requested script, ``route?query``: agi_network_script, else agi_request's path."""
    script = env.get("agi_network_script")
    if script is not None:
        return script
    parts = urlsplit(env.get("agi_request", ""))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def split_script(script: str, limits: EnvLimits = EnvLimits()) -> tuple[str, dict[str, str]]:
    """``route/x?a=1&b=2`` -> ``("route/x", {"a": "1", "b": "2"})``, within ``limits``.

    The query string comes from the dialplan, possibly with caller data in it:
    it is bounded in size and field count; a repeated key keeps its last value.
    """
    path, _, query = script.partition("#")[0].partition("?")
    route = path.strip("/")
    if not _ROUTE.match(route):
        raise AgiProtocolError(f"bad route {route[:64]!r}")
    if len(query) > limits.max_query_chars:
        raise AgiProtocolError(f"query string over {limits.max_query_chars} characters")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=limits.max_query_fields)
    except ValueError as exc:
        raise AgiProtocolError(f"query string: {exc}") from None
    return route, dict(pairs)


def args_from_env(env: Mapping[str, str]) -> tuple[str, ...]:
    """``agi_arg_1`` .. ``agi_arg_N`` in order, stopping at the first one missing."""
    args: list[str] = []
    for n in range(1, MAX_ARGS + 1):
        value = env.get(f"agi_arg_{n}")
        if value is None:
            break
        args.append(value)
    return tuple(args)


@dataclass(frozen=True)
class AgiReply:
    """A ``200`` reply: ``result`` as sent (GET DATA sends digits, may be empty)."""

    result: str
    data: str | None = None  # the text in parentheses
    endpos: int | None = None

    @property
    def number(self) -> int:
        """The result as an integer (0 when it is not a number, e.g. empty GET DATA)."""
        try:
            return int(self.result)
        except ValueError:
            return 0

    @property
    def digit(self) -> str | None:
        """The key pressed, for replies whose result is an ASCII code (0 = none)."""
        n = self.number
        if n <= 0:
            return None
        if n > 127:
            raise AgiProtocolError(f"result {n} is not a key")
        return chr(n)


def reply_complete(lines: Sequence[str]) -> bool:
    """Whether ``lines`` (read so far, newlines stripped) hold a whole reply."""
    if not lines:
        return False
    if not lines[0].startswith("520-"):
        return True
    last = lines[-1]
    # res_agi prints the usage text without a final newline check: the end
    # marker may be glued to the last usage line.
    return len(lines) > 1 and (last.startswith("520 ") or last.endswith(_USAGE_END))


def parse_reply(lines: Sequence[str]) -> AgiReply:
    """A complete reply (see ``reply_complete``) -> AgiReply, or the error it means."""
    if not lines:
        raise AgiProtocolError("empty reply")
    first = lines[0]
    if first.startswith("HANGUP"):
        raise CallHangup("agi: HANGUP")
    if first.startswith("200 "):
        m = _REPLY_200.match(first)
        if m is None:
            raise AgiProtocolError(f"bad 200 reply: {first[:80]!r}")
        if m.group("result") == "-1":
            raise CallHangup("agi: result=-1")
        endpos = m.group("endpos")
        return AgiReply(m.group("result"), m.group("data"), int(endpos) if endpos else None)
    if first.startswith("511"):
        raise CallHangup("agi: 511 dead channel")
    if first.startswith("510"):
        raise AgiCommandError(510, first[4:].strip() or "invalid or unknown command")
    if first.startswith("520"):
        usage = "\n".join(lines[1:-1]) if first.startswith("520-") else ""
        raise AgiCommandError(520, first[4:].strip(), usage)
    raise AgiProtocolError(f"not an AGI reply: {first[:80]!r}")


def quote(value: str) -> str:
    """One command argument from any text, caller-supplied included.

    Quoted and backslash-escaped the way res_agi splits arguments; control
    characters (newlines first of all) become spaces, so the text can never
    end the command line.
    """
    clean = _UNSAFE.sub(" ", value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{clean}"'


def arg(value: str) -> str:
    """``value`` bare when it is one safe word (readable logs), else ``quote(value)``."""
    return value if _BARE.match(value) else quote(value)


def name(value: str) -> str:
    """A channel variable or function name, checked: names never come from callers."""
    if not _NAME.match(value):
        raise AgiUnsafeCommand(f"not a variable name: {value[:40]!r}")
    return value


def encode_command(line: str) -> bytes:
    """The bytes to send for one command line, or AgiUnsafeCommand.

    Refuses control characters and lines that do not fit res_agi's buffer:
    either would let the rest of the line run as a second command.
    """
    if _UNSAFE.search(line):
        raise AgiUnsafeCommand(f"control character in command {line[:40]!r}")
    data = line.encode("utf-8") + b"\n"
    if len(data) > MAX_COMMAND_BYTES:
        raise AgiUnsafeCommand(f"command of {len(data)} bytes (max {MAX_COMMAND_BYTES})")
    return data

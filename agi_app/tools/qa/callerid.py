"""A QA caller ID as it travels: percent-encoded into the SIP URI, decoded by
Asterisk, cut at the first ``;`` (the URI's parameters start there) and kept
by the app as ``caller_id`` keeps it.

A QA engineer testing junk caller IDs (``--from '"><script>'``) means the
junk to reach the app, not to make SIPp send a message Asterisk drops."""

from __future__ import annotations

import re
from urllib.parse import quote

from agi_app.core.numbers import caller_id

MAX_FROM = 256  # characters of --from; SIPp's message stays well under 64 KiB
# Sent as they are: what RFC 3261 allows in a user part, less ';' and '?'
# (parameters and headers) and '%' (escapes); ';' would also split SIPp's CSV.
_SAFE = "-_.!~*'()&=+$,/"
_DIALLED = re.compile(r"\+?[0-9*]{1,32}")


class CallerIdError(ValueError):
    """A --from or --to that cannot be sent."""


def sip_user(raw: str) -> str:
    """``raw`` as a SIP URI user part: anything outside the safe set escaped."""
    if not raw:
        raise CallerIdError("--from is empty (use 'anonymous' for a withheld number)")
    if len(raw) > MAX_FROM:
        raise CallerIdError(f"--from has {len(raw)} characters; at most {MAX_FROM}")
    return quote(raw, safe=_SAFE)


def recorded_caller(raw: str) -> str:
    """The caller the journey names for a call placed with ``--from raw``."""
    return caller_id(raw.split(";", 1)[0])


def dialled(raw: str) -> str:
    """``--to``: a number the hotline's dialplan can match."""
    if not _DIALLED.fullmatch(raw):
        raise CallerIdError(
            f"--to {raw!r}: expected a number (0-9 and *, a leading + allowed; at most 32)"
        )
    return raw

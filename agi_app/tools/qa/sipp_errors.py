"""Why SIPp counted a call as failed, in one line, from its ``-trace_err`` log.

SIPp writes ``<scenario>_<pid>_errors.log``: "The following events occurred:"
then one event per timestamp (``2026-12-07\\t23:02:01.97\\t1796684521.97: ...``),
not always on a line of its own; an unexpected message is quoted whole. A
receive timeout with a label to jump to is the scenario's own branch (a key
script's wait), not a failure, and is left out.
"""

from __future__ import annotations

import re

_EVENT = re.compile(r"\d{4}-\d\d-\d\d\t[\d:.]+\t[\d.]+: ")
_CAUSE = re.compile(r"cause=(\d+)")
_CAUSE_CHECK = re.compile(r"Q\\\.850;cause=(\d+)")
_REGEXP = re.compile(r"Failed regexp match: looking in '(.*)', with regexp '(.*)'", re.S)
_NO_HEADER = re.compile(r"Failed regexp match: header (\S+) not found")
_UNEXPECTED = re.compile(
    r"Aborting call on unexpected message .*?while expecting '([^']*)'.*?received '([^\r\n']*)",
    re.S,
)
_TIMEOUT = re.compile(r"receive timeout on message .*?:(\d+) without label")


def _unexpected(expected: str, first_line: str) -> str:
    got = (
        first_line.removeprefix("SIP/2.0 ")
        if first_line.startswith("SIP/2.0 ")
        else first_line.split(" ")[0]
    )
    return f"SIPp received an unexpected {got} while waiting for {expected}"


def _failed_check(looking_in: str, regexp: str) -> str:
    want, got = _CAUSE_CHECK.search(regexp), _CAUSE.search(looking_in)
    if want and got:
        return f"the BYE's cause was {got.group(1)}, expected {want.group(1)}"
    return f"a check failed: {looking_in.strip()!r} does not match {regexp!r}"


def _event_reason(event: str) -> str | None:
    if m := _UNEXPECTED.search(event):
        return _unexpected(m.group(1), m.group(2))
    if m := _REGEXP.search(event):
        return _failed_check(m.group(1), m.group(2))
    if m := _NO_HEADER.search(event):
        if m.group(1) == "Reason:":
            return "the BYE carried no Reason header (no Q.850 cause)"
        return f"the message had no {m.group(1)} header"
    if m := _TIMEOUT.search(event):
        return f"nothing arrived in time for the scenario's message {m.group(1)}"
    return None


def failure_reason(errors: str) -> str | None:
    """The distinct reasons in SIPp's error log, joined by "; " (None: none found)."""
    reasons: list[str] = []
    for event in _EVENT.split(errors)[1:]:
        reason = _event_reason(event)
        if reason is not None and reason not in reasons:
            reasons.append(reason)
    return "; ".join(reasons) or None

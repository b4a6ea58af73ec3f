"""Operator controls, as pure data and rules: the emergency announcement, the
forced shedding level (escalation) and the A/B split of a line's flows.

What is active at time ``t``, which A/B variant a number gets (a hash of the
number, so a caller keeps their variant), and the validation of what an
operator asks for (``ControlError`` says what is wrong, before anything is
stored). The store and the clock are elsewhere.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agi_app.core.text import is_ascii_digits, text_problem

log = logging.getLogger(__name__)

ANNOUNCEMENT, ESCALATION, AB_SPLIT = "announcement", "escalation", "ab_split"
KINDS = (ANNOUNCEMENT, ESCALATION, AB_SPLIT)
MANUAL_RULE = "manual"  # the shedding rule journeys record for a forced level
MAX_TEXT = 500
MAX_REASON = 200
MAX_MINUTES = 7 * 24 * 60
# The only prompts an announcement plays: the uploads the console names
# (uploaded_prompt). Anything else, from a JSON body or an old row, is refused:
# it would reach STREAM FILE or an ARI play as it is.
UPLOADED_PROMPT = re.compile(r"agi_app/announcements/[0-9a-f]{16}")
# The fields each request may carry. Anything else is refused, not ignored: a
# misspelled ``share`` would otherwise leave the default in force.
ANNOUNCEMENT_FIELDS = ("text", "prompt", "language", "minutes", "lines")
ESCALATION_FIELDS = ("level", "minutes", "reason")
SPLIT_FIELDS = ("line", "flow_a", "flow_b", "share")
MAX_NAMED = 5  # unknown fields named in the error, at most


class ControlError(ValueError):
    """What an operator asked for is not valid; nothing was changed."""


def check_fields(
    body: Mapping[str, Any], accepted: Collection[str], required: Collection[str] = ()
) -> None:
    """ControlError when ``body`` has a field not in ``accepted`` (a typo must not
    leave a default in force) or lacks one of ``required``; the error names them
    and the fields accepted."""
    unknown = sorted(str(k) for k in body if k not in accepted)
    missing = [k for k in required if k not in body]
    if not unknown and not missing:
        return
    problems = []
    if unknown:
        more = f" and {len(unknown) - MAX_NAMED} more" if len(unknown) > MAX_NAMED else ""
        problems.append(f"unknown field(s) {', '.join(map(repr, unknown[:MAX_NAMED]))}{more}")
    if missing:
        problems.append(f"missing field(s) {', '.join(map(repr, missing))}")
    allowed = ", ".join(accepted) if accepted else "none"
    raise ControlError(f"{'; '.join(problems)}; accepted fields: {allowed}")


def uploaded_prompt(data: bytes) -> str:
    """The sound name of an uploaded prompt (its file: that under the sounds dir, .wav)."""
    return f"agi_app/announcements/{hashlib.sha256(data).hexdigest()[:16]}"


@dataclass(frozen=True)
class Announcement:
    """Played to every new call on ``lines`` (empty: all lines) before its flow."""

    id: str
    expires_at: datetime
    text: str = ""
    prompt: str = ""  # an uploaded sound, relative to the sounds dir, no extension
    language: str = "zh"
    lines: frozenset[str] = frozenset()

    def applies(self, line: str, now: datetime) -> bool:
        return now < self.expires_at and (not self.lines or line in self.lines)


@dataclass(frozen=True)
class Escalation:
    """A shedding level forced for every caller not exempt, until ``until``."""

    level: int
    until: datetime
    reason: str

    def active(self, now: datetime) -> bool:
        return now < self.until


@dataclass(frozen=True)
class AbSplit:
    """New calls of ``line`` go to ``flow_a`` or ``flow_b``; ``share`` is B's part."""

    line: str
    flow_a: str
    flow_b: str
    share: float

    def variant(self, number: str) -> tuple[str, str]:
        """("A" or "B", flow id) for this caller: the same number, the same variant."""
        digest = hashlib.sha256(number.encode("utf-8", "replace")).digest()
        bucket = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
        return ("B", self.flow_b) if bucket < self.share else ("A", self.flow_a)


@dataclass(frozen=True)
class Controls:
    """Everything an operator has set; ``at(now)`` drops what has expired."""

    announcement: Announcement | None = None
    escalation: Escalation | None = None
    splits: dict[str, AbSplit] = field(default_factory=dict)

    def at(self, now: datetime) -> Controls:
        ann = self.announcement
        esc = self.escalation
        return Controls(
            ann if ann is not None and now < ann.expires_at else None,
            esc if esc is not None and esc.active(now) else None,
            self.splits,
        )

    def announcement_for(self, line: str, now: datetime) -> Announcement | None:
        ann = self.announcement
        return ann if ann is not None and ann.applies(line, now) else None

    def forced_level(self, now: datetime) -> Escalation | None:
        esc = self.escalation
        return esc if esc is not None and esc.active(now) else None


def _minutes(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ControlError("minutes must be a whole number")
    try:
        minutes = int(str(raw))
    except ValueError:
        raise ControlError("minutes must be a whole number") from None
    if not 1 <= minutes <= MAX_MINUTES:
        raise ControlError(f"minutes must be 1..{MAX_MINUTES}")
    return minutes


def _lines(raw: Any, known_lines: set[str]) -> frozenset[str]:
    if raw in (None, "", []):
        return frozenset()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise ControlError("lines must be a list of numbers")
    lines = frozenset(x.strip() for x in items if x.strip())
    unknown = sorted(lines - known_lines)
    if unknown:
        raise ControlError(f"unknown line(s): {', '.join(unknown)}")
    return lines


def _free_text(text: str, name: str, max_len: int, *, lines: bool) -> str:
    if len(text) > max_len:
        raise ControlError(f"{name} longer than {max_len} characters")
    problem = text_problem(text, lines=lines)
    if problem is not None:
        raise ControlError(f"{name} {problem}")
    return text


def _checked(ann: Announcement) -> Announcement:
    """``ann`` if it may reach a call: its text storable, its prompt an upload."""
    if not ann.text and not ann.prompt:
        raise ControlError("an announcement needs a text or an uploaded prompt")
    _free_text(ann.text, "text", MAX_TEXT, lines=True)
    if ann.prompt and UPLOADED_PROMPT.fullmatch(ann.prompt) is None:
        raise ControlError(f"prompt {ann.prompt[:60]!r} is not an uploaded prompt")
    if ann.language not in ("zh", "en"):
        raise ControlError("language must be zh or en")
    return ann


def validate_announcement(
    body: dict[str, Any], now: datetime, known_lines: set[str], ident: str
) -> Announcement:
    """An announcement from an operator's request (text or prompt, lines, minutes)."""
    check_fields(body, ANNOUNCEMENT_FIELDS)
    text = body.get("text") or ""
    prompt = body.get("prompt") or ""
    language = body.get("language") or "zh"
    if not all(isinstance(x, str) for x in (text, prompt, language)):
        raise ControlError("text, prompt and language must be text")
    minutes = _minutes(body.get("minutes", 60))
    return _checked(
        Announcement(
            id=ident,
            expires_at=now + timedelta(minutes=minutes),
            text=text.replace("\x00", "").strip(),
            prompt=prompt,
            language=language,
            lines=_lines(body.get("lines"), known_lines),
        )
    )


def validate_escalation(body: dict[str, Any], now: datetime) -> Escalation:
    """A forced level 1..4 for N minutes, with the operator's reason."""
    check_fields(body, ESCALATION_FIELDS)
    level = body.get("level")
    if isinstance(level, str) and is_ascii_digits(level):
        level = int(level)
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 4:
        raise ControlError("level must be 1, 2, 3 or 4")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ControlError("a reason is required")
    reason = _free_text(reason.strip(), "reason", MAX_REASON, lines=False)
    minutes = _minutes(body.get("minutes"))
    return Escalation(level, now + timedelta(minutes=minutes), reason)


def validate_split(body: dict[str, Any], known_lines: set[str], flows: set[str]) -> AbSplit:
    """An A/B split of a known line between two known, different flows."""
    check_fields(body, SPLIT_FIELDS)
    line, flow_a, flow_b = body.get("line"), body.get("flow_a"), body.get("flow_b")
    if not isinstance(line, str) or line not in known_lines:
        raise ControlError(f"unknown line: {line!r}")
    for name in (flow_a, flow_b):
        if not isinstance(name, str) or name not in flows:
            raise ControlError(f"unknown flow: {name!r}")
    if flow_a == flow_b:
        raise ControlError("the two flows must differ")
    share = body.get("share", 0.5)
    try:
        share = float(share)
    except (TypeError, ValueError):
        raise ControlError("share must be a number between 0 and 1") from None
    if not 0.0 <= share <= 1.0:
        raise ControlError("share must be between 0 and 1")
    assert isinstance(flow_a, str) and isinstance(flow_b, str)
    return AbSplit(line, flow_a, flow_b, share)


# The stored form (JSON) of each control, both ways.


def announcement_body(a: Announcement) -> dict[str, Any]:
    return {
        "id": a.id,
        "text": a.text,
        "prompt": a.prompt,
        "language": a.language,
        "lines": sorted(a.lines),
        "expires_at": a.expires_at.isoformat(),
    }


def escalation_body(e: Escalation) -> dict[str, Any]:
    return {"level": e.level, "until": e.until.isoformat(), "reason": e.reason}


def split_body(s: AbSplit) -> dict[str, Any]:
    return {"line": s.line, "flow_a": s.flow_a, "flow_b": s.flow_b, "share": s.share}


def controls_from_rows(rows: list[tuple[str, str, dict[str, Any]]]) -> Controls:
    """Controls from stored (kind, scope, body) rows."""
    ann: Announcement | None = None
    esc: Escalation | None = None
    splits: dict[str, AbSplit] = {}
    for kind, _scope, b in rows:
        if kind == ANNOUNCEMENT:
            ann = _stored_announcement(b)
        elif kind == ESCALATION:
            esc = Escalation(int(b["level"]), datetime.fromisoformat(b["until"]), b["reason"])
        elif kind == AB_SPLIT:
            s = AbSplit(b["line"], b["flow_a"], b["flow_b"], float(b["share"]))
            splits[s.line] = s
    return Controls(ann, esc, splits)


def _stored_announcement(b: dict[str, Any]) -> Announcement | None:
    """A stored announcement, checked again: a row written before a check existed
    (or by hand) must not reach a call. None, logged, when it fails the check."""
    ann = Announcement(
        b["id"],
        datetime.fromisoformat(b["expires_at"]),
        b.get("text", ""),
        b.get("prompt", ""),
        b.get("language", "zh"),
        frozenset(b.get("lines", [])),
    )
    try:
        if not all(isinstance(x, str) for x in (ann.text, ann.prompt, ann.language)):
            raise ControlError("text, prompt and language must be text")
        return _checked(ann)
    except ControlError as exc:
        log.error("controls: stored announcement %r ignored: %s", b["id"], exc)
        return None


def controls_body(c: Controls) -> dict[str, Any]:
    """JSON view of the controls (console, CLI)."""
    return {
        ANNOUNCEMENT: announcement_body(c.announcement) if c.announcement else None,
        ESCALATION: escalation_body(c.escalation) if c.escalation else None,
        "splits": [split_body(s) for s in sorted(c.splits.values(), key=lambda s: s.line)],
    }

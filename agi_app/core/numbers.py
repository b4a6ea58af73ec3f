"""Caller numbers to E.164 (China by default). Caller IDs are untrusted input:
anything that is not a plausible number becomes None, and nothing raises."""

from __future__ import annotations

import re

from agi_app.core.text import is_ascii_digits

MAX_CALLER_ID = 64  # characters of a caller ID (or a dialled number) kept as given


def caller_id(raw: str) -> str:
    """A caller ID (or a dialled number) as the app keeps, logs and records it:
    control characters (newlines, tabs...) removed, at most MAX_CALLER_ID
    characters. The text is never evaluated; this only keeps records and logs
    one line each."""
    return "".join(ch for ch in raw if ch.isprintable())[:MAX_CALLER_ID]


ANONYMOUS = {"", "anonymous", "unknown", "restricted", "private", "unavailable", "0"}
_SIP_USER = re.compile(r"(?:sips?|tel):(\+?[0-9*#().\- ]+)", re.IGNORECASE)
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalise(raw: str, default_country: str = "86") -> str | None:
    """E.164 (``+8613800138000``) or None for anonymous or junk."""
    if not isinstance(raw, str) or len(raw) > 128:
        return None
    text = raw.strip().strip('"').lower()
    if text in ANONYMOUS:
        return None
    m = _SIP_USER.search(text)
    if m:
        text = m.group(1)
    if re.search(r"[^0-9+()\-. ]", text):
        return None
    plus = text.startswith("+")
    digits = re.sub(r"\D", "", text)
    if plus:
        return _check(digits)
    if digits.startswith("00"):
        return _check(digits[2:])
    if _MOBILE.match(digits):
        return _check(default_country + digits)
    if digits.startswith(default_country) and _MOBILE.match(digits[len(default_country) :]):
        return _check(digits)
    if digits.startswith("0") and len(digits) >= 9:  # trunk prefix: 010-12345678
        return _check(default_country + digits[1:])
    if 5 <= len(digits) <= 8:
        return None  # a short code or extension, not a customer's number
    return _check(default_country + digits) if len(digits) >= 9 else None


def _check(digits: str) -> str | None:
    if not is_ascii_digits(digits) or not 8 <= len(digits) <= 15 or digits.startswith("0"):
        return None
    return "+" + digits

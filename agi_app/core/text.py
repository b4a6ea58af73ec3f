"""Checks for text that comes from outside: operators, CSV files, the network.

``str.isdigit`` is true for "²" or "٣", which ``int`` refuses or reads as a
digit nobody typed on a phone; here a digit is one of 0-9. Free text is
refused when it holds what PostgreSQL, a log line or a media name would trip
on: NUL and other control characters, or a lone surrogate (not UTF-8 at all).
"""

from __future__ import annotations

import re

ASCII_DIGITS = "0123456789"  # ``c in ASCII_DIGITS`` for one character
_DIGIT_RUN = re.compile(r"[0-9]+")
# C0 controls but tab and line breaks, DEL, and the C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_ascii_digits(text: str) -> bool:
    """True if ``text`` is one or more of the digits 0-9 and nothing else."""
    return _DIGIT_RUN.fullmatch(text) is not None


def text_problem(text: str, *, lines: bool = True) -> str | None:
    """Why ``text`` cannot be stored as free text, or None if it can.

    With ``lines`` false, tabs and line breaks are refused too (one-line fields).
    """
    found = (_CONTROL if lines else _CONTROL_OR_BREAK).search(text)
    if found is not None:
        return f"holds a control character ({ord(found.group()):#04x})"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text"
    return None

"""Prompt templates, and values read aloud in them.

A prompt is a template when it holds ``{placeholders}``; it is filled at call
time from the call's values and rendered as a dynamic prompt. A placeholder
is ``{name}`` or ``{name:format}``; ``{{`` and ``}}`` are literal braces.

=========  ==================  ========================  ==============================
format     value               zh                        en
=========  ==================  ========================  ==============================
(none)     text                as is                     as is
(none)     int/Decimal/float   as ``number``             as ``number``
amount     yuan: 12.5, "12.50" 十二元五角                 twelve yuan fifty
number     1005, 3.14          一千零五, 三点一四          one thousand five, three point
                                                         one four
count      2, 20000 (integer)  两, 两万 (before a         two, twenty thousand
                               measure word: 两条)
digits     "0571" (any digits) 零五七一                   zero five seven one
phone      "13812345678"       幺三八，幺二三四，五六七八   one three eight, one two three
                                                         four, five six seven eight
date       date, "2026-11-15"  二〇二六年十一月十五日       November fifteenth, twenty
                                                         twenty-six
=========  ==================  ========================  ==============================

``amount`` speaks the unit itself: write ``余额为{balance:amount}。``, not
``{balance:amount}元``. Amounts are rounded half up to the fen. For a phone
number read with 一 rather than 幺, use ``digits``. The reading rules of each
language are in ``numbers_zh`` and ``numbers_en``. Language ``raw`` (for
transaction arguments, not speech) gives every value as ``str(value)``.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from agi_app.core.speech import numbers_en, numbers_zh
from agi_app.core.speech.errors import TemplateError
from agi_app.core.text import ASCII_DIGITS

__all__ = [
    "SPECS",
    "TemplateError",
    "check_template",
    "is_template",
    "phone_groups",
    "render_template",
    "speak_value",
    "template_fields",
]

SPECS = ("", "amount", "number", "count", "digits", "phone", "date")
LANGUAGES = ("zh", "en")
FEN = Decimal("0.01")


def _decimal(value: Any) -> Decimal:
    dec = Decimal(str(value).strip())
    if not dec.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return dec


def _fen(value: Any) -> int:
    return int(_decimal(value).quantize(FEN, rounding=ROUND_HALF_UP) * 100)


def _integer(value: Any) -> int:
    dec = _decimal(value)
    if dec != dec.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(dec)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def _digits(value: Any) -> str:
    raw = str(value)
    if not any(c in ASCII_DIGITS for c in raw):
        raise ValueError(f"{value!r} has no digits")
    return raw


def phone_groups(raw: str) -> list[str]:
    """Digit groups as a number is read: 11 digits 3-4-4 (mobile), 10 digits
    3-3-4 (400 numbers), else as written with separators, else 4s from the right."""
    ds = "".join(c for c in raw if c in ASCII_DIGITS)
    if len(ds) == 11:
        return [ds[:3], ds[3:7], ds[7:]]
    if len(ds) == 10:
        return [ds[:3], ds[3:6], ds[6:]]
    written = ["".join(c for c in part if c in ASCII_DIGITS) for part in _split_written(raw)]
    written = [w for w in written if w]
    if len(written) > 1 or len(ds) <= 6:
        return written or [ds]
    head = len(ds) % 4
    return ([ds[:head]] if head else []) + [ds[i : i + 4] for i in range(head, len(ds), 4)]


def _split_written(raw: str) -> list[str]:
    for sep in "-()+.":
        raw = raw.replace(sep, " ")
    return raw.split()


def _number_zh(value: Any) -> str:
    dec = _decimal(value)
    return (
        numbers_zh.decimal(dec) if dec != dec.to_integral_value() else numbers_zh.integer(int(dec))
    )


_READERS: dict[str, dict[str, Callable[[Any], str]]] = {
    "zh": {
        "amount": lambda v: numbers_zh.amount(_fen(v)),
        "number": _number_zh,
        "count": lambda v: numbers_zh.integer(_integer(v), count=True),
        "digits": lambda v: numbers_zh.digits(_digits(v)),
        "phone": lambda v: numbers_zh.phone(phone_groups(_digits(v))),
        "date": lambda v: numbers_zh.calendar_date(_date(v)),
    },
    "en": {
        "amount": lambda v: numbers_en.amount(_fen(v)),
        "number": lambda v: numbers_en.decimal(_decimal(v)),
        "count": lambda v: numbers_en.integer(_integer(v)),
        "digits": lambda v: numbers_en.digits(_digits(v)),
        "phone": lambda v: numbers_en.phone(phone_groups(_digits(v))),
        "date": lambda v: numbers_en.calendar_date(_date(v)),
    },
}


def _implicit_spec(value: Any) -> str:
    """The format of a placeholder without one: numbers and dates are read as such."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, date):
        return "date"
    return ""


def speak_value(value: Any, spec: str, language: str) -> str:
    """``value`` as speakable text in ``language`` ("zh", "en", or "raw")."""
    if spec not in SPECS:
        raise TemplateError(f"unknown format {spec!r} (use {', '.join(s for s in SPECS if s)})")
    if language == "raw":
        return str(value)
    if language not in _READERS:
        raise TemplateError(f"cannot read values in language {language!r} (have: zh, en)")
    spec = spec or _implicit_spec(value)
    if not spec:
        return str(value)
    try:
        return _READERS[language][spec](value)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise TemplateError(f"cannot read {value!r} as {spec}: {exc}") from exc


def _parse(text: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"bad placeholder in {text!r}: {exc}") from exc


def template_fields(text: str) -> set[str]:
    """The value names the placeholders of ``text`` use (empty for plain text)."""
    return {name for _, name, _, _ in _parse(text) if name}


def is_template(text: str) -> bool:
    """True if ``text`` holds placeholders (or a malformed one: never spoken as is)."""
    if "{" not in text and "}" not in text:
        return False
    try:
        return any(name is not None for _, name, _, _ in _parse(text))
    except TemplateError:
        return True


def check_template(text: str) -> None:
    """Raise TemplateError for a malformed placeholder, a conversion or an unknown format."""
    for _, name, spec, conversion in _parse(text):
        if name is None:
            continue
        if not name.isidentifier():
            raise TemplateError(f"bad placeholder name {{{name}}} in {text!r}")
        if conversion:
            raise TemplateError(f"{{{name}!{conversion}}}: conversions are not supported")
        if (spec or "") not in SPECS:
            known = ", ".join(s for s in SPECS if s)
            raise TemplateError(f"unknown format {{{name}:{spec}}} (use {known})")


def render_template(text: str, values: Mapping[str, Any], language: str) -> str:
    """Fill the placeholders of ``text`` from ``values``, read in ``language``.

    Raises TemplateError naming the placeholder when a value is missing or
    empty, the format is unknown, or the value cannot be read in that format.
    """
    check_template(text)
    out = []
    for literal, name, spec, _ in _parse(text):
        out.append(literal)
        if name is None:
            continue
        if name not in values:
            known = ", ".join(sorted(values)[:12]) or "none"
            raise TemplateError(f"no value for {{{name}}} (have: {known})")
        if values[name] is None:
            raise TemplateError(f"the value of {{{name}}} is empty")
        out.append(speak_value(values[name], spec or "", language))
    return "".join(out)

"""Speaking values: prompt templates and numbers, amounts, dates, phone numbers.

Template placeholders take an optional format:

    {name}            the value as text
    {balance:amount}  money in yuan ("12.50"): 十二元五角 / "12 yuan 50 fen"
    {n:number}        a number: 一千零五 / "1005"
    {card:digits}     digit by digit: 一二三四 / "1 2 3 4"
    {due:date}        an ISO date: 二〇二六年十一月十五日 / "November 15, 2026"
    {phone:phone}     a phone number digit by digit, 1 read 幺 in Mandarin

Mandarin output uses Chinese numerals (espeak-ng's Mandarin voice reads them
correctly; Arabic digits it does not). English keeps digits, which espeak
reads naturally.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

DIGITS_ZH = "零一二三四五六七八九"
SPECS = ("", "amount", "number", "digits", "date", "phone")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")


class TemplateError(ValueError):
    """A placeholder names no known value, or uses an unknown format."""


def _section_zh(n: int) -> str:
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS_ZH[d] + unit
    return out


def int_zh(n: int) -> str:
    """An integer in Chinese numerals: 10 十, 15 十五, 105 一百零五, 10005 一万零五."""
    if n < 0:
        return "负" + int_zh(-n)
    if n == 0:
        return "零"
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    units = ("", "万", "亿", "万亿")
    out, gap = "", False
    for i in reversed(range(len(groups))):
        g = groups[i]
        if g == 0:
            gap = bool(out)
            continue
        if out and (gap or g < 1000):
            out += "零"
        out += _section_zh(g) + units[i]
        gap = False
    return out[1:] if out.startswith("一十") else out


def number_zh(value: Decimal) -> str:
    sign = "负" if value < 0 else ""
    whole, _, frac = f"{abs(value):f}".partition(".")
    text = int_zh(int(whole))
    if frac.strip("0"):
        text += "点" + "".join(DIGITS_ZH[int(d)] for d in frac.rstrip("0"))
    return sign + text


def amount_zh(value: Decimal) -> str:
    """Yuan, jiao and fen: 12.50 十二元五角, 12.05 十二元零五分, 3 三元整."""
    sign = "负" if value < 0 else ""
    fen_total = int((abs(value) * 100).quantize(Decimal(1)))
    yuan, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    out = int_zh(yuan) + "元" if yuan else ""
    if not jiao and not fen:
        return sign + (out + "整" if out else "零元")
    if jiao:
        out += DIGITS_ZH[jiao] + "角"
    elif out:
        out += "零"
    if fen:
        out += DIGITS_ZH[fen] + "分"
    return sign + out


def amount_en(value: Decimal) -> str:
    fen_total = int((abs(value) * 100).quantize(Decimal(1)))
    yuan, fen = fen_total // 100, fen_total % 100
    sign = "minus " if value < 0 else ""
    text = f"{yuan} yuan" if yuan or not fen else ""
    if fen:
        text += f"{' and ' if text else ''}{fen} fen"
    return sign + text


def date_zh(d: date) -> str:
    year = "".join("〇" if c == "0" else DIGITS_ZH[int(c)] for c in str(d.year))
    return f"{year}年{int_zh(d.month)}月{int_zh(d.day)}日"


def date_en(d: date) -> str:
    return f"{MONTHS_EN[d.month - 1]} {d.day}, {d.year}"


def digits_of(raw: str, language: str, phone: bool = False) -> str:
    ds = [c for c in raw if c.isdigit()]
    if language == "zh":
        return "".join("幺" if phone and c == "1" else DIGITS_ZH[int(c)] for c in ds)
    return " ".join(ds)


def speak_value(value: Any, spec: str, language: str) -> str:
    """One value as speakable text in ``language`` ("zh", "en", or "raw")."""
    if spec not in SPECS:
        raise TemplateError(f"unknown format {spec!r} (use {', '.join(s for s in SPECS if s)})")
    if language == "raw" or spec == "":
        return str(value)
    try:
        if spec in ("amount", "number"):
            dec = Decimal(str(value))
            if spec == "amount":
                return amount_zh(dec) if language == "zh" else amount_en(dec)
            return number_zh(dec) if language == "zh" else f"{dec:f}"
        if spec == "date":
            d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
            return date_zh(d) if language == "zh" else date_en(d)
    except (InvalidOperation, ValueError) as exc:
        raise TemplateError(f"cannot read {value!r} as {spec}") from exc
    return digits_of(str(value), language, phone=spec == "phone")


def template_fields(text: str) -> set[str]:
    """The value names a template uses."""
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def is_template(text: str) -> bool:
    return bool(template_fields(text))


def render_template(text: str, values: Mapping[str, Any], language: str) -> str:
    """Fill ``{name:spec}`` placeholders from ``values``, spoken in ``language``."""
    out = []
    for literal, name, spec, _conv in string.Formatter().parse(text):
        out.append(literal)
        if name is None:
            continue
        if name not in values or values[name] is None:
            raise TemplateError(f"no value {name!r} for the prompt")
        out.append(speak_value(values[name], spec or "", language))
    return "".join(out)

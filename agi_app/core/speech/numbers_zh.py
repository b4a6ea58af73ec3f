"""Values read aloud in Mandarin, written in Chinese characters.

espeak-ng's ``cmn-latn-pinyin`` voice reads Chinese numerals well; writing
them ourselves makes the reading a pure, tested function of the value.

Rules followed (of spoken Mandarin, as a bank or operator IVR speaks):

- 零 marks a gap once however many zeros it stands for: 1005 一千零五,
  10005 一万零五, 10500 一万零五百, 100000005 一亿零五.
- A number starting with ten drops the 一: 10 十, 15 十五, 100000 十万; inside
  a number it is kept: 115 一百一十五, 1010 一千零一十.
- 两 replaces a leading 2 before 百/千/万/亿: 200 两百, 2000 两千, 20000 两万;
  elsewhere 二: 2 二, 20 二十, 1200 一千二百, 2.5 二点五, dates 二月二日.
  ``count=True`` (a quantity before a measure word) also reads 2 alone 两.
- Money: 元/角/分, 两 for a leading 2: 12.50 十二元五角, 12.05 十二元零五分,
  0.05 五分, 2 两元, 0.2 两角; no 整 (a written form, not spoken).
- Years digit by digit with 〇: 2026 二〇二六年.
- Phone numbers digit by digit, 1 read 幺 (so it is not heard as 七).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from agi_app.core.text import ASCII_DIGITS

DIGITS = "零一二三四五六七八九"
GROUP_UNITS = ("", "万", "亿", "万亿")
LIMIT = 10**16  # 一万亿亿 and beyond is not a hotline's business


def _section(n: int) -> str:
    """0 < n < 10000 in numerals, 零 for inner gaps, none at the end."""
    out, gap = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            gap = bool(out)
            continue
        if gap:
            out += "零"
            gap = False
        out += DIGITS[d] + unit
    return out


def integer(n: int, count: bool = False) -> str:
    """An integer: 10 十, 1005 一千零五, 2000 两千; ``count``: 2 两."""
    if n < 0:
        return "负" + integer(-n, count)
    if n >= LIMIT:
        raise ValueError(f"{n} is too large to read")
    if n == 0:
        return "零"
    if n == 2 and count:
        return "两"
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out, gap = "", False
    for i in reversed(range(len(groups))):
        g = groups[i]
        if g == 0:
            gap = bool(out)
            continue
        if out and (gap or g < 1000):  # a gap before this section is read 零
            out += "零"
        out += _section(g) + GROUP_UNITS[i]
        gap = False
    if out.startswith("一十"):
        out = out[1:]
    elif out.startswith("二") and len(out) > 1 and out[1] != "十":
        out = "两" + out[1:]  # 两百, 两千, 两万, 两亿; not 两十
    return out


def decimal(value: Decimal) -> str:
    """A decimal number: 3.14 三点一四, 2.50 二点五, 0.5 零点五."""
    sign = "负" if value < 0 else ""
    whole, _, frac = f"{abs(value):f}".partition(".")
    frac = frac.rstrip("0")
    if not frac:
        return sign + integer(int(whole))
    return sign + integer(int(whole)) + "点" + "".join(DIGITS[int(d)] for d in frac)


def amount(fen_total: int) -> str:
    """Money given in fen: 1250 十二元五角, 1205 十二元零五分, 0 零元."""
    if fen_total < 0:
        return "负" + amount(-fen_total)
    yuan, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    out = integer(yuan, count=True) + "元" if yuan else ""
    if jiao:
        out += ("两" if jiao == 2 and not out else DIGITS[jiao]) + "角"
    elif out and fen:
        out += "零"
    if fen:
        out += ("两" if fen == 2 and not out else DIGITS[fen]) + "分"
    return out or "零元"


def calendar_date(d: date) -> str:
    """二〇二六年十一月十五日."""
    year = "".join("〇" if c == "0" else DIGITS[int(c)] for c in str(d.year))
    return f"{year}年{integer(d.month)}月{integer(d.day)}日"


def digits(raw: str, yao: bool = False) -> str:
    """Digit by digit: 1234 一二三四; ``yao``: 1 read 幺."""
    return "".join("幺" if yao and c == "1" else DIGITS[int(c)] for c in raw if c in ASCII_DIGITS)


def phone(groups: list[str]) -> str:
    """A phone number's digit groups, 1 read 幺, groups separated by pauses (，)."""
    return "，".join(digits(group, yao=True) for group in groups)

"""Values read aloud in (American) English, written as words.

espeak reads digits itself, but writing words makes the reading a pure,
tested function of the value and keeps "1,005" from being read "one, five".

Choices:

- Integers US style, no "and": 1005 "one thousand five", 115 "one hundred
  fifteen".
- Money is in yuan and read the way prices are said, "twelve yuan fifty"
  (12.50), "twelve yuan oh five" (12.05), "one yuan" (1.00), "fifty fen"
  (0.50): short, and the yuan figure comes first as the caller expects. The
  fen unit is named only when there are no yuan.
- Decimals digit by digit after "point": 3.14 "three point one four".
- Dates "November fifteenth, twenty twenty-six"; years as spoken: 2005 "two
  thousand five", 1999 "nineteen ninety-nine", 1905 "nineteen oh five".
- Phone numbers digit by digit, "zero" for 0, groups separated by commas.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from agi_app.core.text import ASCII_DIGITS

ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth",
    "eight": "eighth", "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
LIMIT = 10**15


def _below_thousand(n: int) -> str:
    words = []
    if n >= 100:
        words += [ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(TENS[n // 10] + (f"-{ONES[n % 10]}" if n % 10 else ""))
    elif n:
        words.append(ONES[n])
    return " ".join(words)


def integer(n: int) -> str:
    """An integer in words: 1005 "one thousand five"."""
    if n < 0:
        return "minus " + integer(-n)
    if n >= LIMIT:
        raise ValueError(f"{n} is too large to read")
    if n == 0:
        return "zero"
    words = []
    for value, name in SCALES:
        if n >= value:
            words.append(f"{_below_thousand(n // value)} {name}")
            n %= value
    if n:
        words.append(_below_thousand(n))
    return " ".join(words)


def decimal(value: Decimal) -> str:
    """A decimal number: 3.14 "three point one four", 2.50 "two point five"."""
    sign = "minus " if value < 0 else ""
    whole, _, frac = f"{abs(value):f}".partition(".")
    frac = frac.rstrip("0")
    text = integer(int(whole))
    if frac:
        text += " point " + " ".join(ONES[int(d)] for d in frac)
    return sign + text


def amount(fen_total: int) -> str:
    """Money given in fen: 1250 "twelve yuan fifty", 1205 "twelve yuan oh five"."""
    if fen_total < 0:
        return "minus " + amount(-fen_total)
    yuan, fen = divmod(fen_total, 100)
    if not yuan:
        return f"{integer(fen)} fen" if fen else "zero yuan"
    text = f"{integer(yuan)} yuan"
    if fen:
        text += f" {'oh ' if fen < 10 else ''}{integer(fen)}"
    return text


def ordinal(n: int) -> str:
    """1 "first", 22 "twenty-second", 30 "thirtieth"."""
    words = integer(n)
    head, sep, last = words.rpartition("-") if "-" in words else words.rpartition(" ")
    if last in ORDINAL_IRREGULAR:
        last = ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year(y: int) -> str:
    """A year as spoken: 2026 "twenty twenty-six", 2005 "two thousand five"."""
    century, rest = divmod(y, 100)
    if y < 1000 or (century % 10 == 0 and rest < 10) or y >= 10000:
        return integer(y)  # 2000, 2005, 1000: "two thousand (five)"
    if rest == 0:
        return f"{integer(century)} hundred"
    return f"{integer(century)} {'oh ' if rest < 10 else ''}{integer(rest)}"


def calendar_date(d: date) -> str:
    """November fifteenth, twenty twenty-six."""
    return f"{MONTHS[d.month - 1]} {ordinal(d.day)}, {year(d.year)}"


def digits(raw: str) -> str:
    """Digit by digit: "1234" "one two three four"."""
    return " ".join(ONES[int(c)] for c in raw if c in ASCII_DIGITS)


def phone(groups: list[str]) -> str:
    """A phone number's digit groups, separated by pauses (commas)."""
    return ", ".join(digits(group) for group in groups)

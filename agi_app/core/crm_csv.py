"""CRM CSV: validate each row of an import (pure), write an export.

Columns: number,name,grade,brand,tags,language,bill_day,status,last_agent,last_contact_at
(tags separated by ';'). With a header line the columns may come in any order,
optional ones may be missing, and unknown ones are ignored with a warning;
without one, the ten columns in this order. ``number`` and ``grade`` are
required; an empty optional field takes its default: language the hotline's
default (stored as NULL), bill day none (no bill-day shedding), status
``active``, the rest empty. Bad rows are reported with their line number and
reason (a text field with a NUL or another control character, which
PostgreSQL or a log line would trip on, is a bad row). A UTF-8 BOM and CRLF
line ends are accepted; a file the csv module cannot read (a field over its
size limit) is refused whole.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agi_app.core.numbers import normalise
from agi_app.core.text import is_ascii_digits, text_problem

COLUMNS = [
    "number",
    "name",
    "grade",
    "brand",
    "tags",
    "language",
    "bill_day",
    "status",
    "last_agent",
    "last_contact_at",
]
REQUIRED = ("number", "grade")
FREE_TEXT = ("name", "brand", "tags", "last_agent")  # stored as written


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


class ImportRefused(ValueError):
    """The whole file is refused before anything is written (too big, bad header)."""


@dataclass
class ParsedCsv:
    good: list[tuple[Any, ...]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_row(raw: dict[str, str], line: int, grades: set[str]) -> tuple[Any, ...] | BadRow:
    """One row (column -> text, missing columns absent) to an upsert tuple, or why not."""
    raw = {k: v.strip() for k, v in raw.items()}
    for column in FREE_TEXT:
        problem = text_problem(raw.get(column, ""))
        if problem is not None:
            return BadRow(line, f"{column} {problem}")
    number = normalise(raw.get("number", ""))
    if number is None:
        return BadRow(line, f"bad number {raw.get('number', '')[:30]!r}")
    grade = raw.get("grade", "")
    if grade not in grades:
        return BadRow(line, f"unknown grade {grade[:20]!r}")
    language = raw.get("language", "") or None
    if language is not None and language not in ("zh", "en"):
        return BadRow(line, f"bad language {language[:10]!r}")
    status = raw.get("status", "") or "active"
    if status not in ("active", "suspended"):
        return BadRow(line, f"bad status {status[:20]!r}")
    bill_text = raw.get("bill_day", "")
    bill_day = None
    if bill_text:
        if not is_ascii_digits(bill_text) or not 1 <= int(bill_text) <= 31:
            return BadRow(line, f"bad bill day {bill_text[:10]!r}")
        bill_day = int(bill_text)
    contact = None
    contact_text = raw.get("last_contact_at", "")
    if contact_text:
        try:
            contact = datetime.fromisoformat(contact_text)
        except ValueError:
            return BadRow(line, f"bad timestamp {contact_text[:30]!r}")
        if contact.tzinfo is None:
            return BadRow(line, "timestamp needs a UTC offset, e.g. 2026-11-01T10:00:00+08:00")
    tags = [t.strip()[:50] for t in raw.get("tags", "").split(";") if t.strip()][:50]
    return (
        number,
        raw.get("name", "")[:100],
        grade,
        raw.get("brand", "")[:50],
        tags,
        language,
        bill_day,
        status,
        raw.get("last_agent", "")[:80] or None,
        contact,
    )


def _header(fields: list[str]) -> list[str] | None:
    """The column names if ``fields`` is a header line (it names ``number``), else None."""
    names = [f.strip().lstrip("\ufeff").lower() for f in fields]
    return names if "number" in names else None


def parse_csv(text: str, grades: set[str], *, max_rows: int | None = None) -> ParsedCsv:
    """All rows of a CRM export; raises ImportRefused for a file refused whole."""
    out = ParsedCsv()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    columns = COLUMNS
    rows = 0
    for n, fields in enumerate(_records(reader), 1):
        if not fields or not any(f.strip() for f in fields):
            continue
        if n == 1 and (named := _header(fields)) is not None:
            columns = _check_header(named, out)
            continue
        rows += 1
        if max_rows is not None and rows > max_rows:
            raise ImportRefused(f"more than {max_rows:,} rows: nothing imported")
        # line_num counts physical lines: a quoted field may hold a line break.
        line = reader.line_num
        if len(fields) != len(columns):
            out.bad.append(BadRow(line, f"expected {len(columns)} columns, got {len(fields)}"))
            continue
        raw = {c: f for c, f in zip(columns, fields, strict=True) if c in COLUMNS}
        parsed = parse_row(raw, line, grades)
        if isinstance(parsed, BadRow):
            out.bad.append(parsed)
        else:
            out.good.append(parsed)
    return out


def _records(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; ImportRefused for a file csv cannot read."""
    try:
        yield from reader
    except csv.Error as exc:  # e.g. a field larger than csv's field size limit
        raise ImportRefused(f"line {reader.line_num}: {exc}: nothing imported") from None


def _check_header(names: list[str], out: ParsedCsv) -> list[str]:
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ImportRefused(f"the header lacks the required column(s) {', '.join(missing)}")
    dup = sorted({c for c in names if names.count(c) > 1 and c in COLUMNS})
    if dup:
        raise ImportRefused(f"the header names {', '.join(dup)} more than once")
    unknown = [c for c in names if c not in COLUMNS]
    if unknown:
        shown = ", ".join(repr(c[:40]) for c in unknown[:20])
        out.warnings.append(f"ignored unknown column(s): {shown}")
    return names


def to_csv(records: list[Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for r in records:
        w.writerow(
            [
                r["number"],
                r["name"],
                r["grade"],
                r["brand"],
                ";".join(r["tags"]),
                r["language"] or "",
                "" if r["bill_day"] is None else r["bill_day"],
                r["status"],
                r["last_agent"] or "",
                r["last_contact_at"].isoformat() if r["last_contact_at"] else "",
            ]
        )
    return out.getvalue()

"""CRM CSV import: validate each row (pure), upsert the good ones in one transaction.

Columns: number,name,grade,brand,tags,language,bill_day,status,last_agent,last_contact_at
(tags separated by ';'). Bad rows are reported with their line number and reason.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agi_app.customers.numbers import normalise

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
UPSERT = (
    "INSERT INTO customers (number, name, grade, brand, tags, language, bill_day, status,"
    " last_agent, last_contact_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10, now())"
    " ON CONFLICT (number) DO UPDATE SET name = EXCLUDED.name, grade = EXCLUDED.grade,"
    " brand = EXCLUDED.brand, tags = EXCLUDED.tags, language = EXCLUDED.language,"
    " bill_day = EXCLUDED.bill_day, status = EXCLUDED.status, last_agent = EXCLUDED.last_agent,"
    " last_contact_at = EXCLUDED.last_contact_at, updated_at = now()"
)


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


def parse_row(fields: list[str], line: int, grades: set[str]) -> tuple[Any, ...] | BadRow:
    """One CSV row to an upsert tuple, or the reason it is refused."""
    if len(fields) != len(COLUMNS):
        return BadRow(line, f"expected {len(COLUMNS)} columns, got {len(fields)}")
    raw = dict(zip(COLUMNS, (f.strip() for f in fields), strict=True))
    number = normalise(raw["number"])
    if number is None:
        return BadRow(line, f"bad number {raw['number'][:30]!r}")
    if raw["grade"] not in grades:
        return BadRow(line, f"unknown grade {raw['grade'][:20]!r}")
    if raw["language"] not in ("zh", "en"):
        return BadRow(line, f"bad language {raw['language'][:10]!r}")
    if raw["status"] not in ("active", "suspended"):
        return BadRow(line, f"bad status {raw['status'][:20]!r}")
    if not raw["bill_day"].isdigit() or not 1 <= int(raw["bill_day"]) <= 31:
        return BadRow(line, f"bad bill day {raw['bill_day'][:10]!r}")
    contact = None
    if raw["last_contact_at"]:
        try:
            contact = datetime.fromisoformat(raw["last_contact_at"])
        except ValueError:
            return BadRow(line, f"bad timestamp {raw['last_contact_at'][:30]!r}")
        if contact.tzinfo is None:
            return BadRow(line, "timestamp needs a UTC offset, e.g. 2026-11-01T10:00:00+08:00")
    tags = [t.strip() for t in raw["tags"].split(";") if t.strip()]
    return (
        number,
        raw["name"][:100],
        raw["grade"],
        raw["brand"][:50],
        tags,
        raw["language"],
        int(raw["bill_day"]),
        raw["status"],
        raw["last_agent"] or None,
        contact,
    )


def parse_csv(text: str, grades: set[str]) -> tuple[list[tuple[Any, ...]], list[BadRow]]:
    """All rows of a CSV export (header optional)."""
    good: list[tuple[Any, ...]] = []
    bad: list[BadRow] = []
    reader = csv.reader(io.StringIO(text))
    for n, fields in enumerate(reader, 1):
        if not fields or (n == 1 and fields[0].strip().lower() == "number"):
            continue
        # line_num counts physical lines: a quoted field may hold a line break.
        parsed = parse_row(fields, reader.line_num, grades)
        (bad if isinstance(parsed, BadRow) else good).append(parsed)  # type: ignore[arg-type]
    return good, bad


async def upsert(conn: Any, rows: list[tuple[Any, ...]]) -> int:
    """Upsert rows in one transaction (re-running the same file changes nothing)."""
    async with conn.transaction():
        await conn.executemany(UPSERT, rows)
    return len(rows)


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
                r["language"],
                r["bill_day"],
                r["status"],
                r["last_agent"] or "",
                r["last_contact_at"].isoformat() if r["last_contact_at"] else "",
            ]
        )
    return out.getvalue()

"""Caller numbers to E.164, and the CRM CSV import's row checks."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from agi_app.core.crm_csv import BadRow, ImportRefused, parse_csv
from agi_app.core.numbers import MAX_CALLER_ID, caller_id, normalise

E164 = re.compile(r"\+[0-9]{8,15}")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+8613800138000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("8613800138000", "+8613800138000"),
        ("86 13800138000", "+8613800138000"),
        ("13800138000", "+8613800138000"),
        ("013800138000", "+8613800138000"),  # trunk 0 before a mobile
        ("010-12345678", "+861012345678"),  # trunk 0 before an area code
        ("0571.8888.6666", "+8657188886666"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("(010) 1234 5678", "+861012345678"),
        (" 13800138000 ", "+8613800138000"),
        ('"13800138000"', "+8613800138000"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("+44 20 7946 0000", "+442079460000"),
        ("+123456789012345", "+123456789012345"),  # 15 digits: the E.164 maximum
        # SIP and tel URIs
        ("sip:+8613800138000@10.0.0.1", "+8613800138000"),
        ("sip:13800138000@pbx.example", "+8613800138000"),
        ("sips:+8613800138000@host;user=phone", "+8613800138000"),
        ("SIP:13800138000@pbx", "+8613800138000"),
        ('"Alice" <sip:+8613800138000@host>', "+8613800138000"),
        ("tel:+8613800138000", "+8613800138000"),
        ("tel:+442079460000", "+442079460000"),
        ("tel:+14155550123", "+14155550123"),
        ("sip:+14155550123@carrier.example", "+14155550123"),
        # anonymous, withheld, empty
        ("anonymous", None),
        ("Anonymous", None),
        ("unknown", None),
        ("restricted", None),
        ("", None),
        ("   ", None),
        ("0", None),
        ("sip:anonymous@anonymous.invalid", None),
        # letters, SQL, codes that are no customer's number
        ("abc", None),
        ("1380013800O", None),
        ("13800138000'; DROP TABLE customers;--", None),
        ("13800138000 OR 1=1", None),
        ("*31#13800138000", None),
        ("１３８００１３８０００", None),  # full-width digits
        ("10086", None),  # a short code
        ("12345678", None),
        ("+1234567", None),  # too short
        ("+0123456789", None),  # no country code starts with 0
        ("+1234567890123456", None),  # 16 digits: too long
        ("1" * 129, None),
        ("+86" + "1" * 200, None),
    ],
)
def test_normalise(raw: str, e164: str | None) -> None:
    assert normalise(raw) == e164


ALPHABET = "0123456789" * 4 + "+-(). *#\"'<>@:;" + "siptelSIPTELanonymousx" + "一１٣\t\n\x00"
PIECES = ["sip:", "tel:", "+", "00", "86", "0", "13800138000", "@host", "anonymous", " "]


def junk(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 6)):
        if rng.random() < 0.3:
            parts.append(rng.choice(PIECES))
        else:
            parts.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 20))))
    return "".join(parts)


def test_normalise_never_raises_and_returns_e164_or_none() -> None:
    rng = random.Random(20270315)
    seen = 0
    for _ in range(20_000):
        raw = junk(rng)
        result = normalise(raw)
        assert result is None or E164.fullmatch(result), (raw, result)
        seen += result is not None
    assert seen > 100  # the junk does contain numbers, so both branches are exercised


def test_normalise_refuses_what_is_not_a_string() -> None:
    wrong: Any = 13800138000
    assert normalise(wrong) is None


GRADES = {"diamond", "gold", "standard"}
HEADER = "number,name,grade,brand,tags,language,bill_day,status,last_agent,last_contact_at"
GOOD = "13800138000,张三,gold,全球通,5g; family ,zh,15,active,agent1,2026-11-01T10:00:00+08:00"


def test_parse_csv_good_rows_and_header() -> None:
    text = "\n".join([HEADER, GOOD, "+8613800138001,Li,standard,,,en,1,suspended,,", ""])
    parsed = parse_csv(text, GRADES)
    assert parsed.bad == []
    assert parsed.good == [
        (
            "+8613800138000",
            "张三",
            "gold",
            "全球通",
            ["5g", "family"],
            "zh",
            15,
            "active",
            "agent1",
            datetime(2026, 11, 1, 10, 0, tzinfo=timezone(timedelta(hours=8))),
        ),
        ("+8613800138001", "Li", "standard", "", [], "en", 1, "suspended", None, None),
    ]


def test_parse_csv_without_header() -> None:
    parsed = parse_csv(GOOD + "\n", GRADES)
    assert (len(parsed.good), parsed.bad) == (1, [])


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("13800138000,x,gold,,,zh,15,active,,,extra", "expected 10 columns, got 11"),
        ("13800138000,x,gold", "expected 10 columns, got 3"),
        ("anonymous,x,gold,,,zh,15,active,,", "bad number 'anonymous'"),
        ("12345,x,gold,,,zh,15,active,,", "bad number '12345'"),
        ("13800138000,x,bronze,,,zh,15,active,,", "unknown grade 'bronze'"),
        ("13800138000,x,Gold,,,zh,15,active,,", "unknown grade 'Gold'"),
        ("13800138000,x,gold,,,fr,15,active,,", "bad language 'fr'"),
        ("13800138000,x,gold,,,zh,15,closed,,", "bad status 'closed'"),
        ("13800138000,x,gold,,,zh,0,active,,", "bad bill day '0'"),
        ("13800138000,x,gold,,,zh,32,active,,", "bad bill day '32'"),
        ("13800138000,x,gold,,,zh,-1,active,,", "bad bill day '-1'"),
        ("13800138000,x,gold,,,zh,²,active,,", "bad bill day '²'"),  # "²".isdigit()
        ("13800138000,x,gold,,,zh,١٥,active,,", "bad bill day '١٥'"),
        # Text PostgreSQL refuses (NUL) or a log line trips on: a bad row, not a good one.
        ("13800138000,a\x00b,gold,,,zh,15,active,,", "name holds a control character (0x00)"),
        ("13800138000,x,gold,\x1b[31m,,zh,15,active,,", "brand holds a control character (0x1b)"),
        ("13800138000,x,gold,,a;b\x7f,zh,15,active,,", "tags holds a control character (0x7f)"),
        ("13800138000,x,gold,,,zh,15,active,\x08,", "last_agent holds a control character (0x08)"),
        ("13800138000,x,gold,,,zh,15,active,,yesterday", "bad timestamp 'yesterday'"),
        (
            "13800138000,x,gold,,,zh,15,active,,2026-11-01T10:00:00",
            "timestamp needs a UTC offset, e.g. 2026-11-01T10:00:00+08:00",
        ),
    ],
)
def test_parse_csv_bad_row_reason_and_line(row: str, reason: str) -> None:
    text = "\n".join([HEADER, GOOD, row, GOOD.replace("138000,", "138009,", 1)])
    parsed = parse_csv(text, GRADES)
    assert parsed.bad == [BadRow(3, reason)]
    assert [g[0] for g in parsed.good] == ["+8613800138000", "+8613800138009"]


def test_parse_csv_reports_each_bad_row_by_its_line() -> None:
    rows = [
        HEADER,
        GOOD,
        "",
        "x,x,gold,,,zh,15,active,,",
        GOOD,
        "13800138000,x,gold,,,zh,99,active,,",
    ]
    parsed = parse_csv("\n".join(rows), GRADES)
    assert parsed.bad == [BadRow(4, "bad number 'x'"), BadRow(6, "bad bill day '99'")]
    assert len(parsed.good) == 2


def test_parse_csv_line_numbers_count_lines_of_quoted_fields() -> None:
    """A quoted name may hold a line break; the bad row after it is still reported
    at the line an editor shows it on."""
    rows = [HEADER, '13800138000,"张三\n(家庭)",gold,,,zh,15,active,,', "x,x,gold,,,zh,15,active,,"]
    parsed = parse_csv("\n".join(rows), GRADES)
    assert len(parsed.good) == 1
    assert parsed.bad == [BadRow(4, "bad number 'x'")]


def test_empty_optional_fields_take_their_defaults() -> None:
    parsed = parse_csv(HEADER + "\n13800138000,,gold,,,,,,,\n", GRADES)
    assert parsed.bad == []
    # language: the hotline's default (NULL), bill day: none, status: active
    assert parsed.good == [("+8613800138000", "", "gold", "", [], None, None, "active", None, None)]


def test_required_fields_stay_required() -> None:
    parsed = parse_csv(HEADER + "\n,x,gold,,,,,,,\n13800138000,x,,,,,,,,\n", GRADES)
    assert parsed.bad == [BadRow(2, "bad number ''"), BadRow(3, "unknown grade ''")]


def test_header_in_any_order_with_missing_and_unknown_columns() -> None:
    text = "Grade,Segment,NUMBER,name,crm_id\r\ngold,A,13800138000,Zhang,77\r\n"
    parsed = parse_csv("\ufeff" + text, GRADES)
    assert parsed.bad == []
    assert parsed.warnings == ["ignored unknown column(s): 'segment', 'crm_id'"]
    assert parsed.good == [
        ("+8613800138000", "Zhang", "gold", "", [], None, None, "active", None, None)
    ]


def test_bom_and_crlf_line_ends() -> None:
    text = "\ufeff" + HEADER + "\r\n" + GOOD + "\r\n" + "x,x,gold,,,zh,15,active,,\r\n"
    parsed = parse_csv(text, GRADES)
    assert len(parsed.good) == 1 and parsed.good[0][5] == "zh"
    assert parsed.bad == [BadRow(3, "bad number 'x'")]


def test_a_row_wider_than_the_header_is_bad() -> None:
    parsed = parse_csv("number,grade\n13800138000,gold,extra\n", GRADES)
    assert parsed.bad == [BadRow(2, "expected 2 columns, got 3")]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("number,name", r"lacks the required column\(s\) grade"),
        ("number,grade,grade", "names grade more than once"),
    ],
)
def test_a_header_without_what_is_required_refuses_the_file(header: str, reason: str) -> None:
    with pytest.raises(ImportRefused, match=reason):
        parse_csv(header + "\n13800138000,gold\n", GRADES)


def test_a_field_over_the_csv_size_limit_refuses_the_file() -> None:
    """csv.Error was a traceback; now the file is refused whole, nothing imported."""
    huge = '13800138000,"' + "x" * 200_000 + '",gold,,,zh,15,active,,'
    with pytest.raises(ImportRefused, match="line 3: field larger than field limit"):
        parse_csv("\n".join([HEADER, GOOD, huge, GOOD]), GRADES)


def test_too_many_rows_refuses_the_file() -> None:
    rows = [HEADER] + [GOOD.replace("138000", f"{n:06d}", 1) for n in range(5)]
    assert len(parse_csv("\n".join(rows), GRADES, max_rows=5).good) == 5
    with pytest.raises(ImportRefused, match="more than 4 rows"):
        parse_csv("\n".join(rows), GRADES, max_rows=4)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("13800138000", "13800138000"),
        ("${SHELL(id)}\n\r\t999", "${SHELL(id)}999"),  # kept as text, never evaluated
        ("a\x00b\x1bc", "abc"),
        ("9" * 300, "9" * MAX_CALLER_ID),
    ],
)
def test_caller_id_is_one_printable_bounded_line(raw: str, kept: str) -> None:
    assert caller_id(raw) == kept

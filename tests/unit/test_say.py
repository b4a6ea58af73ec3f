"""Values read aloud (numbers, money, dates, digits, phone numbers) in zh and en,
and prompt templates, as the flow engine uses them: tables."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from agi_app.core.speech import numbers_en, numbers_zh
from agi_app.core.speech.say import (
    SPECS,
    TemplateError,
    check_template,
    is_template,
    phone_groups,
    render_template,
    speak_value,
    template_fields,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "零"),
        (1, "一"),
        (2, "二"),
        (7, "七"),
        (10, "十"),
        (11, "十一"),
        (12, "十二"),
        (15, "十五"),
        (20, "二十"),
        (22, "二十二"),
        (100, "一百"),
        (102, "一百零二"),
        (105, "一百零五"),
        (110, "一百一十"),
        (115, "一百一十五"),
        (200, "两百"),
        (1000, "一千"),
        (1005, "一千零五"),
        (1010, "一千零一十"),
        (1050, "一千零五十"),
        (1200, "一千二百"),
        (2000, "两千"),
        (2022, "两千零二十二"),
        (10000, "一万"),
        (10005, "一万零五"),
        (10500, "一万零五百"),
        (11000, "一万一千"),
        (20000, "两万"),
        (100000, "十万"),
        (100010, "十万零一十"),
        (110000, "十一万"),
        (120000, "十二万"),
        (1000000, "一百万"),
        (1000010, "一百万零一十"),
        (2000000, "两百万"),
        (100000000, "一亿"),
        (100000005, "一亿零五"),
        (200000000, "两亿"),
        (1000000000, "十亿"),
        (123456789, "一亿二千三百四十五万六千七百八十九"),
        (-5, "负五"),
        (-15, "负十五"),
    ],
)
def test_integer_zh(n: int, text: str) -> None:
    assert numbers_zh.integer(n) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [(2, "两"), (12, "十二"), (20, "二十"), (22, "二十二"), (200, "两百"), (20000, "两万")],
)
def test_count_zh_reads_two_as_liang(n: int, text: str) -> None:
    assert numbers_zh.integer(n, count=True) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("3.14", "三点一四"),
        ("2.5", "二点五"),
        ("2.50", "二点五"),
        ("0.5", "零点五"),
        ("10.05", "十点零五"),
        ("-1.5", "负一点五"),
        ("7", "七"),
    ],
)
def test_decimal_zh(value: str, text: str) -> None:
    assert numbers_zh.decimal(Decimal(value)) == text


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        ("12.50", "十二元五角", "twelve yuan fifty"),
        ("12.05", "十二元零五分", "twelve yuan oh five"),
        ("3", "三元", "three yuan"),
        ("0", "零元", "zero yuan"),
        ("0.05", "五分", "five fen"),
        ("0.2", "两角", "twenty fen"),
        ("2", "两元", "two yuan"),
        ("1000.01", "一千元零一分", "one thousand yuan oh one"),
        ("-3.20", "负三元二角", "minus three yuan twenty"),
        ("12.345", "十二元三角五分", "twelve yuan thirty-five"),  # rounded half up to the fen
        (Decimal("88.8"), "八十八元八角", "eighty-eight yuan eighty"),
    ],
)
def test_amount(value: Any, zh: str, en: str) -> None:
    assert speak_value(value, "amount", "zh") == zh
    assert speak_value(value, "amount", "en") == en


@pytest.mark.parametrize(
    ("fen", "zh", "en"),
    [(1250, "十二元五角", "twelve yuan fifty"), (5, "五分", "five fen"), (0, "零元", "zero yuan")],
)
def test_amount_in_fen(fen: int, zh: str, en: str) -> None:
    assert (numbers_zh.amount(fen), numbers_en.amount(fen)) == (zh, en)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("12.55", "十二元五角五分"),
        ("12", "十二元"),
        ("2.22", "两元二角二分"),
        ("0.02", "两分"),
        ("1005.3", "一千零五元三角"),
        ("10000", "一万元"),
        ("-35.5", "负三十五元五角"),
        ("0.005", "一分"),  # rounded half up to the fen
        (Decimal("99.999"), "一百元"),
        (8, "八元"),
    ],
)
def test_amount_zh(value: Any, text: str) -> None:
    assert speak_value(value, "amount", "zh") == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("12", "twelve yuan"),
        ("1", "one yuan"),
        ("0.50", "fifty fen"),
        ("0.01", "one fen"),
        ("1234.99", "one thousand two hundred thirty-four yuan ninety-nine"),
        ("-3.5", "minus three yuan fifty"),
    ],
)
def test_amount_en(value: Any, text: str) -> None:
    assert speak_value(value, "amount", "en") == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (21, "twenty-one"),
        (100, "one hundred"),
        (115, "one hundred fifteen"),
        (1005, "one thousand five"),
        (20000, "twenty thousand"),
        (1000001, "one million one"),
        (123456789, "one hundred twenty-three million four hundred fifty-six thousand "
         "seven hundred eighty-nine"),
        (-4, "minus four"),
    ],
)  # fmt: skip
def test_integer_en(n: int, text: str) -> None:
    assert numbers_en.integer(n) == text


@pytest.mark.parametrize(
    ("day", "zh", "en"),
    [
        (date(2026, 11, 15), "二〇二六年十一月十五日", "November fifteenth, twenty twenty-six"),
        (date(2030, 1, 1), "二〇三〇年一月一日", "January first, twenty thirty"),
        (date(2028, 2, 29), "二〇二八年二月二十九日", "February twenty-ninth, twenty twenty-eight"),
        (date(2000, 12, 31), "二〇〇〇年十二月三十一日", "December thirty-first, two thousand"),
        (date(2005, 2, 2), "二〇〇五年二月二日", "February second, two thousand five"),
    ],
)
def test_dates(day: date, zh: str, en: str) -> None:
    assert (numbers_zh.calendar_date(day), numbers_en.calendar_date(day)) == (zh, en)
    for value in (day, day.isoformat()):  # a date, or its ISO text
        assert (speak_value(value, "date", "zh"), speak_value(value, "date", "en")) == (zh, en)


@pytest.mark.parametrize(
    ("value", "spec", "zh", "en"),
    [
        ("0571", "digits", "零五七一", "zero five seven one"),
        ("1234", "digits", "一二三四", "one two three four"),
        # a phone number: 1 read 幺 in Mandarin, grouped 3-4-4
        (
            "13800138000",
            "phone",
            "幺三八，零零幺三，八零零零",
            "one three eight, zero zero one three, eight zero zero zero",
        ),
        (
            "400-810-0086",
            "phone",
            "四零零，八幺零，零零八六",
            "four zero zero, eight one zero, zero zero eight six",
        ),
    ],
)
def test_digits_and_phone(value: str, spec: str, zh: str, en: str) -> None:
    assert speak_value(value, spec, "zh") == zh
    assert speak_value(value, spec, "en") == en
    assert "幺" not in speak_value(value, "digits", "zh")


@pytest.mark.parametrize(
    ("value", "spec", "lang", "text"),
    [
        (1005, "number", "zh", "一千零五"),
        ("3.14", "number", "en", "three point one four"),
        (2, "count", "zh", "两"),
        (2, "count", "en", "two"),
        ("13812345678", "phone", "zh", "幺三八，幺二三四，五六七八"),
        ("+86 138-1234-5678", "phone", "zh", "八六，幺三八，幺二三四，五六七八"),
        ("4008010086", "phone", "zh", "四零零，八零幺，零零八六"),
        ("95555", "phone", "zh", "九五五五五"),
        ("12345678", "phone", "zh", "幺二三四，五六七八"),
        ("13812345678", "phone", "en", "one three eight, one two three four, five six seven eight"),
        ("13812345678", "digits", "zh", "一三八一二三四五六七八"),
        # A digit is 0-9: "²" or "٣" (isdigit() says yes) is skipped like a dash.
        ("1²3", "digits", "zh", "一三"),
        ("1٣3", "digits", "en", "one three"),
        ("138²1234٣5678", "phone", "zh", "幺三八，幺二三四，五六七八"),
        ("2026-02-02", "date", "zh", "二〇二六年二月二日"),
        (datetime(2026, 11, 15, 9, 30), "date", "zh", "二〇二六年十一月十五日"),
        ("2005-03-01", "date", "en", "March first, two thousand five"),
        ("1999-12-31", "date", "en", "December thirty-first, nineteen ninety-nine"),
        ("2010-05-22", "date", "en", "May twenty-second, twenty ten"),
        ("2026-11-15", "amount", "raw", "2026-11-15"),
    ],
)
def test_speak_value(value: Any, spec: str, lang: str, text: str) -> None:
    assert speak_value(value, spec, lang) == text


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("abc", "amount"),
        ("NaN", "number"),
        ("2.5", "count"),
        ("none", "digits"),
        ("²", "digits"),
        ("15/11/2026", "date"),
        (10**17, "number"),
    ],
)
def test_unreadable_value_is_a_template_error(value: Any, spec: str) -> None:
    with pytest.raises(TemplateError, match=spec):
        speak_value(value, spec, "zh")


@pytest.mark.parametrize(
    ("text", "values", "lang", "spoken"),
    [
        ("余额{balance:amount}", {"balance": "12.50"}, "zh", "余额十二元五角"),
        ("Balance {balance:amount}.", {"balance": "12.50"}, "en", "Balance twelve yuan fifty."),
        ("余额为{b:amount}。", {"b": "1234.5"}, "zh", "余额为一千二百三十四元五角。"),
        ("Your balance is {b:amount}.", {"b": "12.5"}, "en", "Your balance is twelve yuan fifty."),
        ("截止{due:date}", {"due": "2026-11-15"}, "zh", "截止二〇二六年十一月十五日"),
        ("交易商户{m}，{d:date}。", {"m": "星巴克", "d": "2026-11-15"}, "zh",
         "交易商户星巴克，二〇二六年十一月十五日。"),
        ("已用{mb:number}兆", {"mb": 1005}, "zh", "已用一千零五兆"),
        ("您有{n:count}条新消息", {"n": 2}, "zh", "您有两条新消息"),
        ("您排在第{n}位", {"n": 12}, "zh", "您排在第十二位"),  # numbers read without a format
        ("您好，{name}", {"name": "张三"}, "zh", "您好，张三"),
        ("号码{p:phone}", {"p": "13800138000"}, "zh", "号码幺三八，零零幺三，八零零零"),
        ("请拨打{p:phone}", {"p": "10086"}, "zh", "请拨打幺零零八六"),
        ("{{字面}}", {}, "zh", "{字面}"),
        ("{{literal}} {x}", {"x": "ok"}, "en", "{literal} ok"),
        ("没有占位符", {}, "zh", "没有占位符"),
        # raw: transaction arguments, not speech
        ("{card}", {"card": "0571"}, "raw", "0571"),
        ("{balance:amount}", {"balance": "12.50"}, "raw", "12.50"),
    ],
)  # fmt: skip
def test_render_template(text: str, values: dict[str, Any], lang: str, spoken: str) -> None:
    assert render_template(text, values, lang) == spoken


@pytest.mark.parametrize(
    ("text", "values", "message"),
    [
        ("余额{b:amount}", {}, r"no value for \{b\} \(have: none\)"),  # unknown field
        ("余额{b:amount}", {"other": "1"}, r"no value for \{b\} \(have: other\)"),
        ("余额{b:money}", {"b": 1}, "unknown format"),
        ("余额{b!r}", {"b": 1}, "conversions"),
        ("余额{b}", {"b": None}, "empty"),
        ("余额{b:amount}", {"b": None}, "empty"),
        ("余额{b:amount}", {"b": "many"}, "cannot read 'many' as amount"),
        ("截止{d:date}", {"d": "2026-13-45"}, "cannot read '2026-13-45' as date"),
        ("余额{b", {"b": 1}, "bad placeholder"),  # unclosed
        ("余额{0}", {"0": 1}, "bad placeholder name"),
        ("余额{b.c}", {"b": 1}, "bad placeholder name"),
    ],
)
def test_render_template_errors(text: str, values: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render_template(text, values, "zh")


def test_unknown_spec_is_refused_in_any_language() -> None:
    for language in ("zh", "en", "raw"):
        with pytest.raises(TemplateError, match="unknown format 'money'"):
            speak_value("1", "money", language)


def test_unknown_language_for_values() -> None:
    with pytest.raises(TemplateError, match="language 'fr'"):
        render_template("{n:number}", {"n": 1}, "fr")


@pytest.mark.parametrize(
    ("text", "fields", "template"),
    [
        ("您好", set(), False),
        ("余额{b:amount}，日期{d:date}，再说{b}", {"b", "d"}, True),
        ("{{not a field}}", set(), False),
        ("broken {x", None, True),  # malformed: never spoken as is
    ],
)
def test_fields_and_is_template(text: str, fields: set[str] | None, template: bool) -> None:
    assert is_template(text) is template
    if fields is None:
        with pytest.raises(TemplateError):
            template_fields(text)
    else:
        assert template_fields(text) == fields


def test_every_spec_is_checked_and_readable_in_both_languages() -> None:
    samples = {"amount": "1.5", "number": "1", "count": 3, "digits": "12", "phone": "110",
               "date": "2026-01-01", "": "x"}  # fmt: skip
    for spec in SPECS:
        check_template(f"{{v:{spec}}}" if spec else "{v}")
        for lang in ("zh", "en"):
            assert speak_value(samples[spec], spec, lang)


@pytest.mark.parametrize(
    ("raw", "groups"),
    [
        ("13812345678", ["138", "1234", "5678"]),
        ("4008010086", ["400", "801", "0086"]),
        ("021-6234 5678", ["021", "6234", "5678"]),
        ("62345678", ["6234", "5678"]),
        ("2345678", ["234", "5678"]),
        ("110", ["110"]),
    ],
)
def test_phone_groups(raw: str, groups: list[str]) -> None:
    assert phone_groups(raw) == groups

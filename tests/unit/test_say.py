"""Values read aloud (numbers, money, dates, digits, phone numbers) and prompt
templates, as the flow engine uses them: tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from agi_app.core.speech import numbers_en, numbers_zh
from agi_app.core.speech.say import TemplateError, render_template, speak_value


@pytest.mark.parametrize(
    ("n", "zh"),
    [
        (0, "零"),
        (7, "七"),
        (10, "十"),
        (12, "十二"),
        (20, "二十"),
        (102, "一百零二"),
        (110, "一百一十"),
        (1005, "一千零五"),
        (1010, "一千零一十"),
        (2000, "两千"),
        (10005, "一万零五"),
        (10500, "一万零五百"),
        (100000, "十万"),
        (110000, "十一万"),
        (1000010, "一百万零一十"),
        (100000005, "一亿零五"),
        (123456789, "一亿二千三百四十五万六千七百八十九"),
        (-5, "负五"),
    ],
)
def test_integer_zh(n: int, zh: str) -> None:
    assert numbers_zh.integer(n) == zh


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
    assert speak_value(day.isoformat(), "date", "zh") == zh
    assert speak_value(day, "date", "en") == en


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
    ("text", "values", "language", "spoken"),
    [
        ("余额{balance:amount}", {"balance": "12.50"}, "zh", "余额十二元五角"),
        ("Balance {balance:amount}.", {"balance": "12.50"}, "en", "Balance twelve yuan fifty."),
        ("截止{due:date}", {"due": "2026-11-15"}, "zh", "截止二〇二六年十一月十五日"),
        ("已用{mb:number}兆", {"mb": 1005}, "zh", "已用一千零五兆"),
        ("您好，{name}", {"name": "张三"}, "zh", "您好，张三"),
        ("号码{p:phone}", {"p": "13800138000"}, "zh", "号码幺三八，零零幺三，八零零零"),
        ("{{字面}}", {}, "zh", "{字面}"),
        # raw: transaction arguments, not speech
        ("{card}", {"card": "0571"}, "raw", "0571"),
        ("{balance:amount}", {"balance": "12.50"}, "raw", "12.50"),
    ],
)
def test_render_template(text: str, values: dict[str, Any], language: str, spoken: str) -> None:
    assert render_template(text, values, language) == spoken


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("余额{balance:amount}", {}),  # unknown field
        ("余额{balance:amount}", {"other": "1"}),
        ("余额{balance:money}", {"balance": "12.50"}),  # unknown format
        ("余额{balance:amount}", {"balance": None}),  # empty value
        ("余额{balance:amount}", {"balance": "many"}),  # not an amount
        ("截止{due:date}", {"due": "2026-13-45"}),  # not a date
        ("余额{balance", {"balance": "1"}),  # unclosed placeholder
    ],
)
def test_render_template_errors(text: str, values: dict[str, Any]) -> None:
    with pytest.raises(TemplateError):
        render_template(text, values, "zh")


def test_unknown_spec_is_refused_in_any_language() -> None:
    for language in ("zh", "en", "raw"):
        with pytest.raises(TemplateError, match="unknown format 'money'"):
            speak_value("1", "money", language)

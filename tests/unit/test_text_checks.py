"""The checks on text from outside (core.text) and on sound names (what the
app asks Asterisk to play): tables."""

from __future__ import annotations

import pytest

from agi_app.core.speech.protocol import check_sound
from agi_app.core.text import is_ascii_digits, text_problem


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("0", True),
        ("0123456789", True),
        ("", False),
        ("²", False),  # isdigit() says yes, int() says no
        ("1²", False),
        ("٣", False),  # an Arabic-Indic three: int() reads it, nobody typed it on a phone
        ("١٢", False),
        ("+1", False),
        (" 1", False),
        ("1\n", False),
    ],
)
def test_ascii_digits(text: str, digits: bool) -> None:
    assert is_ascii_digits(text) is digits


@pytest.mark.parametrize(
    ("text", "lines", "problem"),
    [
        ("停电通知 <b>", True, None),
        ("two\nlines\tand a tab\r\n", True, None),
        ("two\nlines", False, "control character (0x0a)"),
        ("a\x00b", True, "control character (0x00)"),
        ("bell\x07", True, "control character (0x07)"),
        ("del\x7f", True, "control character (0x7f)"),
        ("c1\x85", True, "control character (0x85)"),
        ("lone \ud800 surrogate", True, "not valid Unicode"),
        ("\udcff", False, "not valid Unicode"),  # a header byte 0xff, as aiohttp gives it
    ],
)
def test_text_problem(text: str, lines: bool, problem: str | None) -> None:
    found = text_problem(text, lines=lines)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    "name",
    [
        "agi_app/cache/zh/3f2a9c01d4e5b6a7c8d9e0f1",
        "agi_app/cache/en/dynamic/3f2a9c01d4e5b6a7c8d9e0f1",
        "agi_app/static/fallback_menu",
        "agi_app/static/prompt_unavailable_en",
        "agi_app/announcements/0123456789abcdef",
        "hello",
    ],
)
def test_sound_names_the_app_plays(name: str) -> None:
    assert check_sound(name) == name


@pytest.mark.parametrize(
    "name",
    [
        'x\nEXEC System "touch /tmp/pwned"',  # a second AGI command
        "x\r\nEXEC Hangup",
        "a b",  # STREAM FILE's next argument
        'a"b',
        "agi_app/announcements/x,sound:../../../etc/x",  # a second ARI media
        "../etc/passwd",
        "agi_app/../../x",
        "/var/lib/asterisk/sounds/x",
        "sound:x",
        "a/",
        "a//b",
        "",
        "fake/zh/停电",
    ],
)
def test_anything_else_is_not_a_sound_name(name: str) -> None:
    with pytest.raises(ValueError, match="not a sound name"):
        check_sound(name)

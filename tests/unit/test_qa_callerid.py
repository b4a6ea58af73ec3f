"""`qa call --from junk`: the junk reaches the app instead of making SIPp send
a message Asterisk drops (seen: `--from '"><script>;DROP TABLE'` retransmitted
the INVITE five times and failed, with no journey)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from agi_app.settings import Settings
from agi_app.tools.qa.callerid import (
    MAX_FROM,
    CallerIdError,
    dialled,
    recorded_caller,
    sip_user,
)
from agi_app.tools.qa.heard_call import recording_path
from agi_app.tools.qa.runner import caller_file

# RFC 3261 user part: unreserved / escaped / user-unreserved, less ';' '?' (and
# ';' is also SIPp's CSV separator).
SIP_USER = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,/]|%[0-9A-F]{2})+")


@pytest.mark.parametrize(
    "raw",
    [
        "13800000005",
        "+8613800000005",
        "anonymous",
        "*21#",
        '"><script>;DROP TABLE',
        "${SHELL(id)}",
        "a b\tc\r\nd",
        "号码",
        "x%41y",
        "9" * MAX_FROM,
    ],
)
def test_any_from_travels_as_a_valid_sip_user_and_decodes_back(raw: str) -> None:
    user = sip_user(raw)
    assert SIP_USER.fullmatch(user), user
    assert unquote(user) == raw


def test_a_plain_number_is_sent_as_it_is() -> None:
    assert sip_user("13800000005") == "13800000005"
    assert sip_user("+8613800000005") == "+8613800000005"


@pytest.mark.parametrize("raw", ["", "9" * (MAX_FROM + 1)])
def test_empty_or_huge_from_is_a_clear_error(raw: str) -> None:
    with pytest.raises(CallerIdError, match="--from"):
        sip_user(raw)


def test_the_journey_is_looked_up_as_asterisk_and_the_app_keep_the_caller() -> None:
    # Asterisk decodes the user part and stops at ';'; the app drops control characters.
    assert recorded_caller('"><script>;DROP TABLE') == '"><script>'
    assert recorded_caller("12\n34") == "1234"
    assert recorded_caller("13800000005") == "13800000005"
    assert len(recorded_caller("9" * 200)) == 64


@pytest.mark.parametrize("raw", ["10086", "4008010086", "*100", "+8610086"])
def test_a_dialled_number_passes(raw: str) -> None:
    assert dialled(raw) == raw


@pytest.mark.parametrize("raw", ["", "10086;x", "10086@evil", "a", "1" * 33, "100 86"])
def test_a_dialled_number_that_cannot_be_sent_is_refused(raw: str) -> None:
    with pytest.raises(CallerIdError, match="--to"):
        dialled(raw)


def test_the_sipp_csv_gets_one_field_per_caller(tmp_path: Path) -> None:
    path = caller_file(tmp_path, [sip_user("a;b;c")])
    assert path.read_text().splitlines()[1] == "a%3Bb%3Bc;"


def test_a_recording_name_never_leaves_the_qa_folder(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    path = recording_path(settings, sip_user("../../etc/passwd"), "10086")
    assert path.parent == tmp_path / "qa"
    assert "/" not in path.name and ".." not in path.name

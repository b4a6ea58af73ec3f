"""The ARI edge's JSON: orjson and the standard library agree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agi_app.adapters.ari import jsonio

EVENT = {"type": "StasisStart", "args": ["100"], "channel": {"caller": {"name": "王钻石"}}}


@pytest.fixture
def stdlib() -> Iterator[None]:
    jsonio.use_stdlib()
    yield
    jsonio._orjson = True


def test_orjson_round_trip_is_compact_utf8() -> None:
    text = jsonio.dumps(EVENT)
    assert " " not in text and "王钻石" in text
    assert jsonio.loads(text) == EVENT == jsonio.loads(text.encode())


def test_stdlib_gives_the_same_text_and_the_same_errors(stdlib: None) -> None:
    text = jsonio.dumps(EVENT)
    jsonio._orjson = True
    assert jsonio.dumps(EVENT) == text
    jsonio.use_stdlib()
    assert jsonio.loads(text) == EVENT
    with pytest.raises(ValueError):
        jsonio.loads("{not json")

"""JSON at the ARI edge: orjson, or the standard library's json.

orjson is the default; ``use_stdlib`` (``AGI_APP_ORJSON=0``) exists so that
``make bench`` can measure what orjson is worth. Both raise ValueError
subclasses on bad input.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_orjson = True


def use_stdlib() -> None:
    global _orjson
    _orjson = False


def loads(data: str | bytes) -> Any:
    return orjson.loads(data) if _orjson else json.loads(data)


def dumps(obj: Any) -> str:
    if _orjson:
        return orjson.dumps(obj).decode()
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)

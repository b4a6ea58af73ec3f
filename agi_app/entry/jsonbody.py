"""A request's JSON object, read as every admin and console endpoint reads it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agi_app.core.controls import ControlError


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; ControlError (a 400 with its reason) otherwise."""
    try:
        body = await request.json()
    except (ValueError, LookupError):  # not JSON, not its charset, an unknown charset
        raise ControlError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body

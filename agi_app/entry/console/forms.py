"""Reading a POSTed form that anyone may have written.

aiohttp raises ValueError for a multipart body without a boundary (or a
malformed one, or bytes that are not the charset's) and LookupError for a
charset Python does not know: a client's mistake, so 400 with the reason,
never a 500.
"""

from __future__ import annotations

import json

from aiohttp import web
from multidict import MultiDictProxy

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_form(request: web.Request) -> Form:
    """The request's form fields; 400 when the body cannot be read as a form."""
    try:
        return await request.post()
    except (ValueError, LookupError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "the form cannot be read"}), content_type="application/json"
        ) from None

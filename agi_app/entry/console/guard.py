"""Who may call a console route: a live session (and, for a POST, its CSRF
token), or a script with the admin bearer token (browsers never send that by
themselves, so it needs no CSRF token)."""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from agi_app.entry.console.auth import csrf_ok
from agi_app.entry.console.deps import DEPS_KEY


def refuse(cls: type[web.HTTPException], message: str) -> web.HTTPException:
    return cls(text=json.dumps({"error": message}), content_type="application/json")


async def operator(request: web.Request, *, post: bool = False) -> str:
    """The operator's name for the audit table; raises 401 or 403."""
    deps = request.app[DEPS_KEY]
    given = request.headers.get("Authorization", "")
    if given and deps.token:
        if hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"),
            f"Bearer {deps.token}".encode("utf-8", "surrogateescape"),
        ):
            return f"token@{request.remote or '-'}"
        raise refuse(web.HTTPUnauthorized, "unauthorised")
    session = deps.sessions.get(request)
    if session is None:
        raise refuse(web.HTTPUnauthorized, "log in first")
    if post and not await csrf_ok(request, session.csrf):
        raise refuse(web.HTTPForbidden, "bad or missing CSRF token")
    return session.who


def still_operator(request: web.Request) -> bool:
    """For a response that lasts (the live feed), after ``operator`` let it
    start: is its session still live? A log-out or the session's expiry ends
    it; a bearer token, checked at the start, does not change while running."""
    deps = request.app[DEPS_KEY]
    if request.headers.get("Authorization", "") and deps.token:
        return True  # as in ``operator``: the token was the way in
    return deps.sessions.get(request) is not None

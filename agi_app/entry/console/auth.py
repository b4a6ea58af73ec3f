"""Console log-in: the admin token once, then a session cookie.

Sessions live in memory, keyed by a random id made at log-in (nothing to sign,
nothing to guess; a restart logs everyone out). The cookie is HttpOnly and
SameSite=Strict. Every POST carries the session's CSRF token (header
``X-CSRF-Token`` or form field ``csrf``), the log-in form included (a
pre-session token in its own cookie, double-submit). Wrong tokens are
rate-limited per address.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from agi_app.entry.console.forms import FORM_TYPES, read_form

COOKIE = "agi_console"
PRE_COOKIE = "agi_console_pre"
SESSION_S = 8 * 3600
MAX_FAILURES = 5  # wrong log-ins per address ...
FAILURE_WINDOW_S = 60.0  # ... per this many seconds, then 429


@dataclass
class Session:
    csrf: str
    expires: float
    who: str


@dataclass
class Sessions:
    """The console's sessions and the log-in rate limit."""

    token: str
    now: Callable[[], float] = time.monotonic
    sessions: dict[str, Session] = field(default_factory=dict)
    failures: dict[str, deque[float]] = field(default_factory=dict)

    def limited(self, address: str) -> bool:
        recent = self.failures.get(address)
        if recent is None:
            return False
        while recent and self.now() - recent[0] > FAILURE_WINDOW_S:
            recent.popleft()
        return len(recent) >= MAX_FAILURES

    def log_in(self, address: str, given: str) -> tuple[str, Session] | None:
        """A new session for the right token; None (and one failure counted) if wrong."""
        if not self.token or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), self.token.encode("utf-8", "surrogateescape")
        ):
            self.failures.setdefault(address, deque()).append(self.now())
            return None
        self.failures.pop(address, None)
        sid = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(24), self.now() + SESSION_S, f"console@{address}")
        self.sessions[sid] = session
        return sid, session

    def get(self, request: web.Request) -> Session | None:
        sid = request.cookies.get(COOKIE, "")
        session = self.sessions.get(sid)
        if session is None:
            return None
        if session.expires < self.now():
            del self.sessions[sid]
            return None
        return session

    def log_out(self, request: web.Request) -> None:
        self.sessions.pop(request.cookies.get(COOKIE, ""), None)


def set_cookie(resp: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    resp.set_cookie(name, value, max_age=max_age, httponly=True, samesite="Strict", path="/")


async def csrf_ok(request: web.Request, expected: str) -> bool:
    """The POST carries ``expected`` as header or form field (constant-time)."""
    given = request.headers.get("X-CSRF-Token", "")
    if not given and request.content_type in FORM_TYPES:
        form = await read_form(request)
        raw = form.get("csrf", "")
        given = raw if isinstance(raw, str) else ""
    return bool(expected) and hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )

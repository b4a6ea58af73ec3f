"""The operations console, served on the admin port beside /admin and /metrics.

    auth.py    log-in with the admin token, session cookie, CSRF, rate limit
    pages.py   the HTML pages (Now, Flows, Month, log-in) and the static files
    api.py     the control API (announcement, escalation, A/B split), A/B figures
    figures.py the Flows and Month pages' data (graph with traffic, reload, month)
    events.py  the Now page's live feed (server-sent events)

Everything is vendored under static/ (no CDN at run time). The pages fill
themselves from the API with ``textContent`` only: nothing a caller or an
operator typed is ever parsed as HTML.
"""

from __future__ import annotations

from aiohttp import web

from agi_app.entry.console import api, events, figures, pages
from agi_app.entry.console.deps import DEPS_KEY, ConsoleDeps

__all__ = ["ConsoleDeps", "add_console"]


def add_console(app: web.Application, deps: ConsoleDeps) -> None:
    """Register the console's pages, API and live feed on ``app``."""
    app[DEPS_KEY] = deps
    pages.add_routes(app)
    api.add_routes(app)
    events.add_routes(app)
    figures.add_routes(app)

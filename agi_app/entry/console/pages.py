"""The console's pages: log-in, Now, Flows, Month; and its static files.

The pages are shells in Mandarin and English; console.js fills them from the
API. The only value put into the HTML here is the CSRF token, escaped. A
Content-Security-Policy allows scripts and styles from this origin only.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from html import escape
from pathlib import Path

from aiohttp import web

from agi_app.entry.console.auth import COOKIE, PRE_COOKIE, SESSION_S, set_cookie
from agi_app.entry.console.deps import DEPS_KEY
from agi_app.entry.console.forms import read_form

STATIC = Path(__file__).with_name("static")
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
NAV = (("now", "实时 Now"), ("flows", "流程 Flows"), ("month", "月度 Month"))

SHELL = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf" content="{csrf}">
<title>{title} · 热线运营台 Hotline console</title>
<link rel="stylesheet" href="/static/console.css"></head>
<body data-page="{page}">
<header><strong>热线运营台 Hotline console</strong><nav>{nav}</nav>
<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="{csrf}">
<button type="submit">退出 Log out</button></form></header>
<main>{body}</main>
<script src="/static/console.js"></script>
</body></html>
"""

LOGIN = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 Log in · 热线运营台</title>
<link rel="stylesheet" href="/static/console.css"></head>
<body class="login"><main>
<h1>热线运营台 Hotline console</h1>
<form method="post" action="/login" id="login">
<input type="hidden" name="csrf" value="{csrf}">
<label>管理令牌 Admin token <input type="password" name="token" id="token"
 autocomplete="current-password" required autofocus></label>
<button type="submit" id="login-button">登录 Log in</button>
<p class="error" id="login-error">{error}</p>
</form></main></body></html>
"""


def _body(page: str) -> str:
    return (STATIC / f"{page}.html").read_text(encoding="utf-8")


def _html(text: str, status: int = 200) -> web.Response:
    resp = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _page(page: str, title: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        session = request.app[DEPS_KEY].sessions.get(request)
        if session is None:
            raise web.HTTPSeeOther("/login")
        nav = "".join(
            f'<a href="/{p}"{" aria-current=page" if p == page else ""}>{label}</a>'
            for p, label in NAV
        )
        csrf = escape(session.csrf, quote=True)
        return _html(SHELL.format(csrf=csrf, title=title, page=page, nav=nav, body=_body(page)))

    return handler


def _same(a: str, b: str) -> bool:
    """Constant-time comparison that any text (non-ASCII too) may reach."""
    return secrets.compare_digest(
        a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape")
    )


def _login_page(error: str = "", status: int = 200) -> web.Response:
    pre = secrets.token_urlsafe(24)
    resp = _html(LOGIN.format(csrf=pre, error=escape(error)), status)
    set_cookie(resp, PRE_COOKIE, pre, 600)
    return resp


async def login_form(request: web.Request) -> web.StreamResponse:
    if request.app[DEPS_KEY].sessions.get(request) is not None:
        raise web.HTTPSeeOther("/now")
    return _login_page()


async def login(request: web.Request) -> web.StreamResponse:
    sessions = request.app[DEPS_KEY].sessions
    address = request.remote or "-"
    if sessions.limited(address):
        return _login_page("尝试过多，请稍后再试 Too many attempts: wait a minute", 429)
    form = await read_form(request)
    pre, given = request.cookies.get(PRE_COOKIE, ""), form.get("csrf", "")
    if not pre or not isinstance(given, str) or not _same(pre, given):
        return _login_page("表单已过期，请重试 The form expired: try again", 403)
    token = form.get("token", "")
    made = sessions.log_in(address, token if isinstance(token, str) else "")
    if made is None:
        return _login_page("令牌错误 Wrong token", 401)
    sid, _session = made
    resp = web.HTTPSeeOther("/now")
    set_cookie(resp, COOKIE, sid, SESSION_S)
    resp.del_cookie(PRE_COOKIE, path="/")
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    sessions = request.app[DEPS_KEY].sessions
    session = sessions.get(request)
    form = await read_form(request)
    given = form.get("csrf", "")
    if session is not None and isinstance(given, str) and _same(given, session.csrf):
        sessions.log_out(request)
    resp = web.HTTPSeeOther("/login")
    resp.del_cookie(COOKIE, path="/")
    raise resp


async def root(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/now")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", root)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/now", _page("now", "实时 Now"))
    app.router.add_get("/flows", _page("flows", "流程 Flows"))
    app.router.add_get("/month", _page("month", "月度 Month"))
    app.router.add_static("/static/", STATIC, show_index=False)

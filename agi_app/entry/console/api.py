"""The console's JSON API: the operator controls and the figures behind the pages.

Every change goes through service.controls (validated, stored with its audit
line); a refused one answers 4xx with the reason and changes nothing.
"""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from agi_app.core.analytics.period import period_problem
from agi_app.core.controls import (
    AB_SPLIT,
    ANNOUNCEMENT,
    ANNOUNCEMENT_FIELDS,
    ESCALATION,
    ControlError,
    check_fields,
    controls_body,
    uploaded_prompt,
    validate_announcement,
)
from agi_app.entry.console.deps import DEPS_KEY, ConsoleDeps
from agi_app.entry.console.forms import FORM_TYPES, read_form
from agi_app.entry.console.guard import operator, refuse
from agi_app.entry.jsonbody import json_object
from agi_app.service.operations import variants

MAX_UPLOAD = 2 * 1024 * 1024  # an announcement prompt: about two minutes of 8 kHz audio
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _deps(request: web.Request) -> ConsoleDeps:
    return request.app[DEPS_KEY]


def guarded(handler: Callable[[web.Request, str], Awaitable[Any]]) -> Handler:
    """A POST route: operator checked, ControlError -> 400, no database -> 503."""

    async def route(request: web.Request) -> web.StreamResponse:
        who = await operator(request, post=True)
        try:
            result = await handler(request, who)
        except ControlError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except OSError as exc:
            return web.json_response({"error": f"database: {exc}"}, status=503)
        return web.json_response({"ok": True, "result": result, "controls": _controls(request)})

    return route


def _controls(request: web.Request) -> dict[str, Any]:
    return controls_body(_deps(request).controls.active())


async def no_fields(request: web.Request) -> None:
    """A POST that takes no fields (a clear, a reload): no body, ``{}``, or a form
    with only the console's ``csrf``. A field (``lines`` to clear one line's
    announcement, say) is refused: it would otherwise clear everything."""
    if request.content_type in FORM_TYPES:
        check_fields(await read_form(request), ("csrf",))
    elif (await request.read()).strip():
        check_fields(await json_object(request), ())


def check_wav(data: bytes) -> None:
    """An uploaded prompt must be what Asterisk plays as .wav: 8 kHz 16-bit mono."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            ok = (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
            frames = w.getnframes()
    except (wave.Error, EOFError, RuntimeError, ValueError):  # RuntimeError: a bad chunk
        raise ControlError("the prompt must be a WAV file") from None
    if not ok or frames == 0:
        raise ControlError("the prompt must be 8 kHz, 16-bit, mono WAV with sound in it")


# The upload form's text fields; besides them it carries the ``prompt`` file and
# may carry ``csrf`` (instead of the header). Anything else is refused.
FORM_FIELDS = ("text", "minutes", "lines", "language")


async def _announcement_body(request: web.Request) -> tuple[dict[str, Any], bytes]:
    """JSON, or a multipart form with an optional ``prompt`` file (a WAV)."""
    if request.content_type != "multipart/form-data":
        return await json_object(request), b""
    try:
        form = await read_form(request)
    except web.HTTPRequestEntityTooLarge:
        raise ControlError(f"the upload is larger than {MAX_UPLOAD // 1024} KB") from None
    check_fields(form, (*ANNOUNCEMENT_FIELDS, "csrf"))
    body: dict[str, Any] = {}
    for name in FORM_FIELDS:
        if name in form:
            body[name] = form[name]
            if not isinstance(body[name], str):
                raise ControlError(f"{name} must be text, not a file")
    upload = form.get("prompt")
    data = b""
    if upload and not isinstance(upload, web.FileField):  # an empty file input is b""
        raise ControlError("the prompt must be an uploaded WAV file")
    if isinstance(upload, web.FileField):
        data = upload.file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise ControlError(f"the prompt is larger than {MAX_UPLOAD // 1024} KB")
        if data:
            check_wav(data)
            body["prompt"] = uploaded_prompt(data)
    return body, data


@guarded
async def set_announcement(request: web.Request, who: str) -> Any:
    deps = _deps(request)
    body, sound = await _announcement_body(request)
    # Refused before the sound is written: a bad request leaves nothing behind.
    validate_announcement(body, deps.controls.wall(), deps.lines(), "check")
    if sound:
        path = deps.sounds_dir / (body["prompt"].removeprefix("agi_app/") + ".wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sound)
    ann = await deps.controls.set_announcement(body, who, deps.lines())
    return {"id": ann.id}


@guarded
async def clear_announcement(request: web.Request, who: str) -> Any:
    await no_fields(request)
    return await _deps(request).controls.clear(ANNOUNCEMENT, who)


@guarded
async def force_level(request: web.Request, who: str) -> Any:
    return await _deps(request).controls.force_level(await json_object(request), who)


@guarded
async def clear_level(request: web.Request, who: str) -> Any:
    await no_fields(request)
    return await _deps(request).controls.clear(ESCALATION, who)


@guarded
async def set_split(request: web.Request, who: str) -> Any:
    deps = _deps(request)
    flows = set(deps.flows().flows)
    split = await deps.controls.set_split(await json_object(request), who, deps.lines(), flows)
    return {"line": split.line}


@guarded
async def clear_split(request: web.Request, who: str) -> Any:
    body = await json_object(request)
    check_fields(body, ("line",))
    line = body.get("line")
    if not isinstance(line, str) or line not in _deps(request).controls.current.splits:
        raise ControlError(f"no split on line {line!r}")
    return await _deps(request).controls.clear(AB_SPLIT, who, line)


async def get_controls(request: web.Request) -> web.Response:
    await operator(request)
    deps = _deps(request)
    try:
        audit = await deps.controls.store.audit(30)
    except OSError:
        audit = []
    return web.json_response(
        {"controls": _controls(request), "audit": audit},
        dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str),
    )


def period(request: web.Request, default_days: int = 0) -> tuple[date, date]:
    """``from``/``to`` query dates (default: the last ``default_days`` days to today)."""
    today = _deps(request).now().date()
    try:
        last = date.fromisoformat(request.query.get("to") or today.isoformat())
        first = date.fromisoformat(
            request.query.get("from") or (last - timedelta(days=default_days)).isoformat()
        )
    except (ValueError, OverflowError):  # OverflowError: a day before 0001-01-01
        raise refuse(web.HTTPBadRequest, "dates are YYYY-MM-DD") from None
    if problem := period_problem(first, last, ("from", "to")):
        raise refuse(web.HTTPBadRequest, problem)
    if first > last or (last - first).days > 366:
        raise refuse(web.HTTPBadRequest, "from must be before to, at most a year apart")
    return first, last


async def get_variants(request: web.Request) -> web.Response:
    await operator(request)
    first, last = period(request, 6)
    deps = _deps(request)
    pool = await deps.get_pool()
    if pool is None:
        raise refuse(web.HTTPServiceUnavailable, "the database is not reachable")
    async with pool.acquire() as conn:
        rows = await variants(conn, first, last, deps.timezone)
    return web.json_response({"from": str(first), "to": str(last), "variants": rows})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/controls", get_controls)
    app.router.add_post("/api/announcement", set_announcement)
    app.router.add_post("/api/announcement/clear", clear_announcement)
    app.router.add_post("/api/escalation", force_level)
    app.router.add_post("/api/escalation/clear", clear_level)
    app.router.add_post("/api/ab", set_split)
    app.router.add_post("/api/ab/clear", clear_split)
    app.router.add_get("/api/variants", get_variants)

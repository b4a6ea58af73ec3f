"""The console over HTTP (aiohttp's test server): log-in, session cookie, CSRF,
the rate limit, every control refused without auth or with bad input (and
nothing changed), the live feed. The store is the in-memory fake of the
ControlStore protocol; the flows are the shipped ones."""

from __future__ import annotations

import asyncio
import io
import json
import re
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from agi_app.core.clock import BusinessClock
from agi_app.core.decisions import Shedding
from agi_app.core.flows.loader import Known, load_flowset
from agi_app.core.journey import CallEnd, CallStart, CallStep
from agi_app.core.shedding.load import QueueLoad
from agi_app.core.shedding.rules import load_rules
from agi_app.entry.admin import build_admin
from agi_app.entry.console import ConsoleDeps, add_console
from agi_app.entry.console.auth import Sessions
from agi_app.service.controls import ControlsService
from agi_app.service.live import LiveCalls
from agi_app.settings import PROJECT_ROOT
from tests.fakes import FakeRenderer, MemoryControlStore

TOKEN = "console-secret-token"
FLOWS, _errors = load_flowset([PROJECT_ROOT / "flows"], Known())
RULES = load_rules(PROJECT_ROOT / "config" / "shedding.yaml")
CSRF_META = re.compile(r'<meta name="csrf" content="([^"]+)"')
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    client: TestClient[Any, Any]
    store: MemoryControlStore
    renderer: FakeRenderer
    live: LiveCalls
    sounds: Path
    sessions: Sessions  # the console's own, to end or expire one
    csrf: str = ""

    async def log_in(self, token: str = TOKEN) -> int:
        page = await (await self.client.get("/login")).text()
        pre = CSRF_FIELD.search(page)
        assert pre is not None
        resp = await self.client.post(
            "/login", data={"token": token, "csrf": pre.group(1)}, allow_redirects=False
        )
        if resp.status == 303:
            now = await (await self.client.get("/now")).text()
            found = CSRF_META.search(now)
            assert found is not None
            self.csrf = found.group(1)
        return resp.status

    async def post(self, path: str, body: Any, csrf: str | None = None) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf}
        resp = await self.client.post(path, json=body, headers=headers)
        return resp.status, await resp.json()


async def no_pool() -> None:
    return None


async def reload() -> dict[str, Any]:
    return {"ok": False, "version": "v1", "errors": ["flows/x.yaml: node 'a': bad"]}


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    assert FLOWS is not None
    store, renderer, live = MemoryControlStore(), FakeRenderer(), LiveCalls()
    controls = ControlsService(store, RULES.levels, renderer)
    deps = ConsoleDeps(
        token=TOKEN,
        controls=controls,
        flows=lambda: FLOWS,
        live=live,
        queues=lambda: {"support": QueueLoad(waiting=2, longest_hold_s=30, available=1)},
        shedding=lambda: Shedding(1, frozenset({"self_service_first"}), "month_end"),
        get_pool=no_pool,
        reload=reload,
        rules=RULES,
        timezone="Asia/Shanghai",
        sounds_dir=tmp_path / "sounds",
        now=lambda: datetime.now(UTC),
    )
    app = build_admin(
        TOKEN,
        BusinessClock(),
        reload,
        lambda: {"ari_connected": True},
        console=lambda a: add_console(a, deps),
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Console(client, store, renderer, live, tmp_path / "sounds", deps.sessions)


# --- log-in and session -------------------------------------------------------------


async def test_log_in_sets_a_strict_http_only_cookie(console: Console) -> None:
    page = await console.client.get("/login")
    assert "管理令牌 Admin token" in await page.text()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    pre = CSRF_FIELD.search(await page.text())
    assert pre is not None
    resp = await console.client.post(
        "/login", data={"token": TOKEN, "csrf": pre.group(1)}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == "/now"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie


async def test_pages_need_a_session(console: Console) -> None:
    for page in ("/now", "/flows", "/month", "/"):
        resp = await console.client.get(page, allow_redirects=False)
        assert resp.status == 303, page
    assert (await console.client.get("/api/state")).status == 401
    assert (await console.client.get("/api/events")).status == 401


async def test_log_in_without_the_form_token_is_refused(console: Console) -> None:
    resp = await console.client.post("/login", data={"token": TOKEN}, allow_redirects=False)
    assert resp.status == 403
    await console.client.get("/login")  # a pre-session cookie, then a hostile form token
    resp = await console.client.post(
        "/login", data={"token": "令牌", "csrf": "令牌"}, allow_redirects=False
    )
    assert resp.status == 403
    assert (await console.client.get("/api/controls")).status == 401


async def test_wrong_log_ins_are_rate_limited(console: Console) -> None:
    for _ in range(5):
        assert await console.log_in("wrong") == 401
    assert await console.log_in(TOKEN) == 429  # even the right token, for a while
    assert (await console.client.get("/api/controls")).status == 401


async def test_log_out_ends_the_session(console: Console) -> None:
    assert await console.log_in() == 303
    resp = await console.client.post("/logout", data={"csrf": console.csrf}, allow_redirects=False)
    assert resp.status == 303
    assert (await console.client.get("/api/controls")).status == 401


@pytest.mark.parametrize("csrf", ["", "not-the-token", "令牌", "%FF"])
async def test_log_out_with_a_wrong_csrf_token_keeps_the_session(
    console: Console, csrf: str
) -> None:
    """A cross-site log-out cannot end the session; a non-ASCII token is no 500."""
    assert await console.log_in() == 303
    form = f"csrf={csrf}".encode("utf-8", "surrogateescape")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    resp = await console.client.post("/logout", data=form, headers=headers, allow_redirects=False)
    assert resp.status == 303
    assert len(console.sessions.sessions) == 1


PART = b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n%s\r\nabc\r\n--x--\r\n'
FORMS_THAT_CANNOT_BE_READ = [
    ("multipart/form-data", PART % b""),  # no boundary: ValueError
    ("multipart/form-data; boundary=", PART % b""),
    ("multipart/form-data; boundary=x", PART % b"Content-Type: text/plain; charset=bogus\r\n"),
    ("application/x-www-form-urlencoded; charset=bogus", b"csrf=abc"),  # LookupError
    ("application/x-www-form-urlencoded", b"csrf=\xff"),  # not UTF-8
]


@pytest.mark.parametrize(("content_type", "body"), FORMS_THAT_CANNOT_BE_READ)
@pytest.mark.parametrize("path", ["/login", "/logout", "/api/escalation", "/api/announcement"])
async def test_a_form_that_cannot_be_read_is_400(
    console: Console, path: str, content_type: str, body: bytes
) -> None:
    assert await console.log_in() == 303
    headers = {"Content-Type": content_type}
    if path == "/api/announcement":
        headers["X-CSRF-Token"] = console.csrf  # through to the route's own form
    resp = await console.client.post(path, data=body, headers=headers, allow_redirects=False)
    assert resp.status == 400, await resp.text()
    assert console.store.rows == {} and len(console.sessions.sessions) == 1


async def test_a_json_body_in_an_unknown_charset_is_400(console: Console) -> None:
    assert await console.log_in() == 303
    headers = {"X-CSRF-Token": console.csrf, "Content-Type": "application/json; charset=bogus"}
    body = json.dumps({"level": 2, "minutes": 10, "reason": "storm"}).encode()
    resp = await console.client.post("/api/escalation", data=body, headers=headers)
    assert resp.status == 400 and "JSON" in (await resp.json())["error"]
    assert console.store.rows == {}


# --- every control refuses without auth, with a bad CSRF token, with bad input -----

CONTROLS = [
    ("/api/escalation", {"level": 2, "minutes": 10, "reason": "storm"}),
    ("/api/escalation/clear", {}),
    ("/api/announcement", {"text": "系统维护", "minutes": 5}),
    ("/api/announcement/clear", {}),
    ("/api/ab", {"line": "10086", "flow_a": "mobile_10086", "flow_b": "demo_ivr"}),
    ("/api/ab/clear", {"line": "10086"}),
    ("/api/flows/reload", {}),
]


@pytest.mark.parametrize(("path", "body"), CONTROLS)
async def test_controls_refused_without_a_session(
    console: Console, path: str, body: dict[str, Any]
) -> None:
    status, _ = await console.post(path, body, csrf="")
    assert status == 401
    resp = await console.client.post(path, json=body, headers={"Authorization": "Bearer no"})
    assert resp.status == 401
    assert console.store.rows == {} and console.store.audit_lines == []


@pytest.mark.parametrize(("path", "body"), CONTROLS)
async def test_controls_refused_with_a_bad_csrf_token(
    console: Console, path: str, body: dict[str, Any]
) -> None:
    assert await console.log_in() == 303
    for bad in ("", "not-the-token"):
        status, answer = await console.post(path, body, csrf=bad)
        assert status == 403 and "CSRF" in answer["error"]
    assert console.store.rows == {} and console.store.audit_lines == []


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/api/escalation", {"level": 7, "minutes": 10, "reason": "x"}, "level must be"),
        ("/api/escalation", {"level": 2, "minutes": 10}, "reason"),
        ("/api/ab", {"line": "10086", "flow_a": "mobile_10086", "flow_b": "demo_ivr",
                     "share": 1.5}, "share"),
        ("/api/ab", {"line": "55555", "flow_a": "mobile_10086", "flow_b": "demo_ivr"},
         "unknown line"),
        ("/api/ab", {"line": "10086", "flow_a": "mobile_10086", "flow_b": "nope"},
         "unknown flow"),
        ("/api/ab/clear", {"line": "10086"}, "no split"),
        ("/api/announcement", {"text": "停电", "lines": ["55555"]}, "unknown line"),
        ("/api/announcement", {"text": ""}, "needs a text"),
        ("/api/announcement", [1, 2], "JSON object"),
        # Text PostgreSQL's jsonb refuses: a 400 here, not a 500 from the store.
        ("/api/escalation", {"level": 2, "minutes": 10, "reason": "a\u0000b"}, "control"),
        ("/api/escalation", {"level": 2, "minutes": 10, "reason": "a\ud800b"}, "Unicode"),
        ("/api/escalation", {"level": "²", "minutes": 10, "reason": "r"}, "level must be"),
        ("/api/announcement", {"text": "停电\udcff"}, "Unicode"),
        # A prompt typed in: it reached STREAM FILE as a second AGI command.
        ("/api/announcement", {"prompt": 'x\nEXEC System "touch /tmp/pwned"', "minutes": 5},
         "not an uploaded prompt"),
        ("/api/announcement", {"prompt": "../../../../etc/passwd"}, "not an uploaded prompt"),
        ("/api/announcement", {"text": "停电", "prompt": "a,b"}, "not an uploaded prompt"),
    ],
)  # fmt: skip
async def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    console: Console, path: str, body: Any, error: str
) -> None:
    assert await console.log_in() == 303
    status, answer = await console.post(path, body)
    assert status == 400 and error in answer["error"]
    assert console.store.rows == {} and console.store.audit_lines == []
    assert console.renderer.rendered == []


SPLIT = {"line": "10086", "flow_a": "mobile_10086", "flow_b": "demo_ivr"}


@pytest.mark.parametrize(
    ("path", "body", "unknown", "accepted"),
    [
        # 200 with share 0.5, the default: half the line's calls on the other flow.
        ("/api/ab", {**SPLIT, "shares": 0.9}, "'shares'", "line, flow_a, flow_b, share"),
        ("/api/escalation", {"level": 2, "minutes": 10, "reason": "r", "bogus": 1}, "'bogus'",
         "level, minutes, reason"),
        ("/api/announcement", {"text": "停电", "minutes": 5, "line": "10086"}, "'line'",
         "text, prompt, language, minutes, lines"),
        ("/api/ab/clear", {"line": "10086", "flow": "demo_ivr"}, "'flow'", "line"),
        # A clear takes no field: "lines" would have cleared every line's announcement.
        ("/api/announcement/clear", {"lines": "10086"}, "'lines'", "none"),
        ("/api/escalation/clear", {"level": 2}, "'level'", "none"),
        ("/api/flows/reload", {"flow": "demo_ivr"}, "'flow'", "none"),
    ],
)  # fmt: skip
async def test_an_unknown_field_is_400_naming_it_and_changes_nothing(
    console: Console, path: str, body: dict[str, Any], unknown: str, accepted: str
) -> None:
    assert await console.log_in() == 303
    await console.post("/api/ab", {**SPLIT, "share": 0.25})
    await console.post("/api/escalation", {"level": 3, "minutes": 10, "reason": "暴雨"})
    await console.post("/api/announcement", {"text": "停电", "minutes": 5})
    rows, audit = dict(console.store.rows), list(console.store.audit_lines)
    status, answer = await console.post(path, body)
    assert status == 400, answer
    assert f"unknown field(s) {unknown}; accepted fields: {accepted}" in answer["error"]
    assert console.store.rows == rows and console.store.audit_lines == audit


async def test_what_the_console_pages_send_is_accepted(console: Console) -> None:
    """The bodies console.js builds from the Now page's forms (strings as the
    form gives them, Number() where it converts), and its empty clears."""
    assert await console.log_in() == 303
    sent = [
        ("/api/announcement", {"text": "停电", "lines": "", "minutes": "30", "language": "zh"}),
        ("/api/escalation", {"level": 2, "minutes": "30", "reason": "暴雨"}),
        ("/api/ab", {**SPLIT, "share": 0.5}),
        ("/api/ab/clear", {"line": "10086"}),
        ("/api/announcement/clear", {}),
        ("/api/escalation/clear", {}),
        ("/api/flows/reload", {}),
    ]
    for path, body in sent:
        status, answer = await console.post(path, body)
        assert status == 200, (path, answer)


async def test_a_clear_with_no_body_or_a_form_with_only_csrf_is_accepted(
    console: Console,
) -> None:
    assert await console.log_in() == 303
    for path in ("/api/announcement/clear", "/api/escalation/clear", "/api/flows/reload"):
        resp = await console.client.post(path, headers={"X-CSRF-Token": console.csrf})
        assert resp.status == 200, await resp.text()
        resp = await console.client.post(path, data={"csrf": console.csrf})
        assert resp.status == 200, await resp.text()
        resp = await console.client.post(path, data={"csrf": console.csrf, "lines": "10086"})
        assert resp.status == 400 and "'lines'" in (await resp.json())["error"]


def wav(seconds: float = 0.1, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * int(rate * seconds))
    return out.getvalue()


async def upload(console: Console, data: bytes, **fields: str) -> tuple[int, Any]:
    form = FormData()
    for k, v in fields.items():
        form.add_field(k, v)
    form.add_field("prompt", io.BytesIO(data), filename="a.wav", content_type="audio/wav")
    resp = await console.client.post(
        "/api/announcement", data=form, headers={"X-CSRF-Token": console.csrf}
    )
    return resp.status, await resp.json()


async def test_a_10_mb_upload_is_refused_and_changes_nothing(console: Console) -> None:
    assert await console.log_in() == 303
    status, answer = await upload(console, b"\x00" * (10 * 1024 * 1024), minutes="5")
    assert status in (400, 413) and "larger" in answer["error"]
    status, answer = await upload(console, wav(rate=44100), minutes="5")
    assert status == 400 and "8 kHz" in answer["error"]
    status, answer = await upload(console, wav(), minutes="5", lines="55555")
    assert status == 400 and "unknown line" in answer["error"]
    assert console.store.rows == {} and not console.sounds.exists()


async def test_an_upload_the_wave_module_chokes_on_is_400(console: Console) -> None:
    assert await console.log_in() == 303
    status, answer = await upload(console, b"RIFF\x0c\x00\x00\x00WAVELIST\xe8\x03\x00\x00")
    assert status == 400 and "WAV" in answer["error"]  # wave raised RuntimeError: a 500
    assert console.store.rows == {} and not console.sounds.exists()


async def test_an_upload_with_an_unknown_field_is_400(console: Console) -> None:
    assert await console.log_in() == 303
    status, answer = await upload(console, wav(), minutes="5", minuets="5")
    assert status == 400 and "unknown field(s) 'minuets'" in answer["error"]
    assert "text, prompt, language, minutes, lines, csrf" in answer["error"]
    form = FormData()
    form.add_field("text", io.BytesIO(b"x"), filename="t.txt")  # a text field as a file
    resp = await console.client.post(
        "/api/announcement", data=form, headers={"X-CSRF-Token": console.csrf}
    )
    assert resp.status == 400 and "text must be text" in (await resp.json())["error"]
    assert console.store.rows == {} and not console.sounds.exists()


async def test_the_upload_form_as_the_page_sends_it(console: Console) -> None:
    """FormData of the Now page's form: every field, the CSRF token as a field
    (the form may carry it instead of the header), and no file chosen."""
    assert await console.log_in() == 303
    form = FormData()
    fields = {"text": "停电", "lines": "10086", "language": "zh", "minutes": "30"}
    for k, v in {**fields, "csrf": console.csrf}.items():
        form.add_field(k, v)
    form.add_field("prompt", b"", filename="", content_type="application/octet-stream")
    resp = await console.client.post("/api/announcement", data=form)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["controls"]["announcement"]["text"] == "停电"


async def test_uploaded_prompt_is_saved_and_announced(console: Console) -> None:
    assert await console.log_in() == 303
    status, answer = await upload(console, wav(), minutes="5", lines="10086")
    assert status == 200, answer
    prompt = answer["controls"]["announcement"]["prompt"]
    assert prompt.startswith("agi_app/announcements/")
    assert (console.sounds / (prompt.removeprefix("agi_app/") + ".wav")).read_bytes() == wav()


async def test_controls_set_and_clear_with_audit(console: Console) -> None:
    assert await console.log_in() == 303
    status, answer = await console.post(
        "/api/escalation", {"level": 3, "minutes": 10, "reason": "暴雨"}
    )
    assert status == 200 and answer["controls"]["escalation"]["level"] == 3
    status, answer = await console.post("/api/announcement", {"text": "<b>停电</b>通知"})
    assert status == 200 and console.renderer.texts == ["<b>停电</b>通知"]
    body = {"line": "10086", "flow_a": "mobile_10086", "flow_b": "demo_ivr", "share": 0.25}
    status, answer = await console.post("/api/ab", body)
    assert status == 200 and answer["controls"]["splits"][0]["share"] == 0.25
    assert (await console.post("/api/ab/clear", {"line": "10086"}))[0] == 200
    assert (await console.post("/api/escalation/clear", {}))[0] == 200
    listing = await (await console.client.get("/api/controls")).json()
    audit = listing["audit"]
    assert [(a["action"], a["kind"]) for a in reversed(audit)] == [
        ("set", "escalation"),
        ("set", "announcement"),
        ("set", "ab_split"),
        ("clear", "ab_split"),
        ("clear", "escalation"),
    ]
    assert all(a["who"] == "console@127.0.0.1" for a in audit)
    assert audit[0]["before"]["reason"] == "暴雨" and audit[0]["after"] is None
    assert listing["controls"]["announcement"]["text"] == "<b>停电</b>通知"


async def test_bearer_token_works_for_scripts(console: Console) -> None:
    resp = await console.client.post(
        "/api/escalation",
        json={"level": 1, "minutes": 5, "reason": "drill"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert resp.status == 200
    assert console.store.audit_lines[0]["who"] == "token@127.0.0.1"


async def test_reload_shows_the_flow_check_errors(console: Console) -> None:
    assert await console.log_in() == 303
    status, answer = await console.post("/api/flows/reload", {})
    assert status == 200 and answer["result"]["errors"] == ["flows/x.yaml: node 'a': bad"]


async def test_flows_list_and_unknown_flow(console: Console) -> None:
    assert await console.log_in() == 303
    listing = await (await console.client.get("/api/flows")).json()
    assert "mobile_10086" in [f["id"] for f in listing["flows"]]
    assert (await console.client.get("/api/flows/nope")).status == 404
    assert (await console.client.get("/api/month?month=2026-13")).status == 400
    assert (await console.client.get("/api/variants?from=x")).status == 400
    # The default "from" is a week before "to": before year 1 it overflowed (500).
    assert (await console.client.get("/api/variants?to=0001-01-01")).status == 400


@pytest.mark.parametrize(
    ("query", "message"),
    [
        # Before: 500 (year 10000 is out of range, a day past the month).
        ("/api/month?month=9999-12", "month 9999-12-01 is outside the years 2000-2199"),
        ("/api/month?month=1999-12", "month 1999-12-01 is outside the years 2000-2199"),
        ("/api/variants?from=2199-12-31&to=2200-01-01", "to 2200-01-01 is outside the years"),
        ("/api/variants?to=9999-12-31", "to 9999-12-31 is outside the years 2000-2199"),
        ("/api/flows/mobile_10086?from=1999-12-31&to=2000-01-01", "from 1999-12-31 is outside"),
    ],
)
async def test_console_days_stay_in_the_years(console: Console, query: str, message: str) -> None:
    assert await console.log_in() == 303
    resp = await console.client.get(query)
    assert resp.status == 400
    assert message in (await resp.json())["error"]


async def test_the_last_month_allowed_is_asked_of_the_database(console: Console) -> None:
    assert await console.log_in() == 303
    assert (await console.client.get("/api/month?month=2199-12")).status == 503  # no database


# --- the live feed ------------------------------------------------------------------


async def next_state(lines: Any) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            line = (await lines.readline()).decode()
            if line.startswith("data: "):
                state: dict[str, Any] = json.loads(line[6:])
                return state


async def test_live_feed_shows_a_call_arrive_and_leave(console: Console) -> None:
    assert await console.log_in() == 303
    resp = await console.client.get("/api/events")
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    first = await next_state(resp.content)
    assert first["live"]["total"] == 0 and first["queues"]["support"]["waiting"] == 2
    assert first["shedding"] == {"level": 1, "rule": "month_end", "actions": ["self_service_first"]}
    now = datetime.now(UTC)
    console.live.emit(CallStart("c1", "13800000001", "10086", "ari", now))
    console.live.emit(CallStep("c1", "main_menu", "menu", now))
    state = await next_state(resp.content)
    assert state["live"]["by_line"] == {"10086": 1}
    assert state["live"]["by_node"] == {"10086/main_menu": 1}
    console.live.emit(CallEnd("c1", now, "completed", 16))
    assert (await next_state(resp.content))["live"]["total"] == 0
    resp.close()


async def ended(lines: Any) -> None:
    """Read the feed until the server ends it (the test's timeout if it never does)."""
    async with asyncio.timeout(5):
        while await lines.readline():
            pass


async def test_live_feed_ends_at_log_out(console: Console) -> None:
    assert await console.log_in() == 303
    resp = await console.client.get("/api/events")
    await next_state(resp.content)
    out = await console.client.post("/logout", data={"csrf": console.csrf}, allow_redirects=False)
    assert out.status == 303 and console.sessions.sessions == {}
    await ended(resp.content)
    resp.close()


async def test_live_feed_ends_when_the_session_expires(console: Console) -> None:
    assert await console.log_in() == 303
    resp = await console.client.get("/api/events")
    await next_state(resp.content)
    for session in console.sessions.sessions.values():
        session.expires = console.sessions.now() - 1
    await ended(resp.content)
    resp.close()


async def test_live_feed_with_the_token_needs_no_session(console: Console) -> None:
    resp = await console.client.get("/api/events", headers={"Authorization": f"Bearer {TOKEN}"})
    await next_state(resp.content)
    console.live.emit(CallStart("c1", "13800000001", "10086", "ari", datetime.now(UTC)))
    assert (await next_state(resp.content))["live"]["total"] == 1
    resp.close()

"""Shared fixtures. The real stack is started once per test session, lazily,
by the first test that needs it, and stopped at the end of the session.

Tests that need Asterisk, PostgreSQL or SIPp never skip: if a part is missing
the fixture fails with the reason (CI must not pass without them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest

from agi_app.adapters.ami.client import Ami
from agi_app.adapters.ami.live_load import parse_queue_summary
from agi_app.adapters.postgres.journey_queries import wait_journey
from agi_app.core.shedding.load import QueueLoad
from agi_app.core.shedding.rules import calendar_holds, load_rules
from agi_app.settings import PROJECT_ROOT, Settings, get_settings
from agi_app.tools.appproc import AppProcess as BaseAppProcess
from agi_app.tools.appproc import app_ready

__all__ = ["wait_journey"]  # the tests import it from here

SHIPPED_RULES = load_rules(PROJECT_ROOT / "config" / "shedding.yaml")
HOTLINE_TZ = ZoneInfo(SHIPPED_RULES.timezone)
SHOWCASE_BILL_DAY = 15  # the showcase customers' (agi_app/tools/demo.py)


def calendar_sheds(when: dt.datetime) -> bool:
    """A calendar condition of the shipped shedding rules holds for a showcase
    customer at ``when`` (month start and end, bill day, holidays, hours...)."""
    local = when.astimezone(HOTLINE_TZ)
    return any(
        r.when.calendar is not None and calendar_holds(r.when.calendar, local, SHOWCASE_BILL_DAY)
        for r in SHIPPED_RULES.rules
    )


def quiet_business_time(now: dt.datetime | None = None) -> dt.datetime | None:
    """None when real time is quiet (no calendar rule sheds today or within the
    hour); else 10:00 on the next quiet day: the business clock of the test app.
    Never in the past (journeys are looked up by start time), so the tests pass
    on any calendar day, month ends included."""
    real = (now or dt.datetime.now(dt.UTC)).astimezone(HOTLINE_TZ)
    soon = real + dt.timedelta(hours=1)
    if not calendar_sheds(real) and not calendar_sheds(soon):
        return None
    when = real.replace(hour=10, minute=0, second=0, microsecond=0)
    while when <= real or calendar_sheds(when):
        when += dt.timedelta(days=1)
    return when


def quiet_clock() -> str | None:
    """The value for AGI_APP_BUSINESS_CLOCK or ``POST /admin/clock`` (None: real time)."""
    when = quiet_business_time()
    return None if when is None else when.isoformat()


def month_end_business_time(now: dt.datetime | None = None) -> dt.datetime:
    """10:00 on the next-to-last day of this month, or of the next one if that
    has passed: a month-end peak day that is never in the past."""
    today = (now or dt.datetime.now(dt.UTC)).astimezone(HOTLINE_TZ)
    first = today.replace(day=1, hour=10, minute=0, second=0, microsecond=0)
    for months_ahead in (1, 2):
        nxt = first
        for _ in range(months_ahead):
            nxt = (nxt.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        candidate = nxt - dt.timedelta(days=2)  # the next-to-last day of the month before
        if candidate > today:
            return candidate
    raise AssertionError("unreachable")


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed: run `make setup` (tests never skip)")


@pytest.fixture(scope="session")
def settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Settings]:
    """PostgreSQL and Asterisk running, migrations applied."""
    _require("sipp")
    cli = str(PROJECT_ROOT / ".venv/bin/agi-app")
    for cmd in ([cli, "stack", "start"], [cli, "migrate"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            pytest.fail(f"{' '.join(cmd[1:])} failed:\n{proc.stdout}\n{proc.stderr}")
    yield settings
    subprocess.run([cli, "stack", "stop"], capture_output=True, timeout=120, check=False)


class AppProcess(BaseAppProcess):
    """The application for the test session: a copy of the flows, a quiet business day."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        super().__init__(settings, log_path)
        self.flows_dir: Path | None = None
        self.quiet_clock = False  # start on a quiet business day (see quiet_clock)
        self.asterisk_log_offset = 0  # Asterisk's log size when this session began

    def start(self, extra_env: dict[str, str] | None = None, timeout: float = 30) -> None:
        env = dict(extra_env or {})
        quiet = quiet_clock() if self.quiet_clock else None
        if quiet is not None:
            env.setdefault("AGI_APP_BUSINESS_CLOCK", quiet)
        if self.flows_dir is not None:
            env["AGI_APP_FLOWS_DIR"] = str(self.flows_dir)
        super().start(env, timeout)

    def wait_registered(self, timeout: float = 30) -> None:
        self.wait_ready(timeout)


async def wait_app_registered(s: Settings, timeout: float) -> None:
    """The app is ready again (after an Asterisk restart, say)."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(app_ready, s):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the application was not ready within {timeout} s")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="session")
def app(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """The application running against the real stack for the whole session.

    It serves a copy of flows/ so that reload tests can change files safely.
    """
    log_path = stack.var_dir / "log" / "app-test.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    flows = tmp_path_factory.mktemp("flows")
    for f in (PROJECT_ROOT / "flows").glob("*.yaml"):
        shutil.copy(f, flows / f.name)
    proc = AppProcess(stack, log_path)
    # Test callers call again and again: their history would make them complaint
    # risks and change their routing. Scores are still recorded; the risk test
    # turns routing on for itself.
    proc.env["AGI_APP_RISK_ROUTING"] = "0"
    proc.flows_dir = flows
    # Flow paths differ on peak days: the test app lives on a quiet business day.
    proc.quiet_clock = True
    ast_log = stack.asterisk_root / "var/log/asterisk/messages.log"
    proc.asterisk_log_offset = ast_log.stat().st_size if ast_log.exists() else 0
    try:
        proc.start()
    except TimeoutError as exc:
        pytest.fail(f"{exc}; see {log_path}")
    yield proc
    proc.stop()


@pytest.fixture
async def db(stack: Settings) -> AsyncIterator[Any]:
    """A connection to the application's database."""
    conn = await asyncpg.connect(stack.pg_dsn)
    yield conn
    await conn.close()


async def place_call(
    tmp_path: Path,
    number: str,
    caller: str,
    keys: str,
    cause: int | None = 16,
    timeout_s: float = 90,
) -> Any:
    """One SIPp call: send ``keys``, expect a BYE with ``cause``; the SIPp result."""
    from agi_app.tools.qa.runner import run_callers
    from agi_app.tools.qa.scenario import build_caller, parse_keys

    work = tmp_path / f"call-{number}-{caller}-{time.monotonic_ns()}"
    scenario = build_caller(parse_keys(keys), work, expect_cause=cause)
    return await run_callers(
        scenario, service=number, callers=[caller], calls=1, limit=1, timeout_s=timeout_s
    )


class Agents:
    """SIPp answerers standing in for agents' phones (and the customer's phone)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: dict[str, Any] = {}

    async def start(self, name: str, port: int, hold_ms: int) -> Any:
        from agi_app.tools.qa.answer_scenario import build_answerer
        from agi_app.tools.qa.runner import Answerer

        scenario = build_answerer(self.workdir / name, hold_ms=hold_ms, name=name)
        ans = Answerer(scenario, port)
        await ans.start()
        self.running[name] = ans
        return ans

    async def stop_all(self) -> None:
        for ans in self.running.values():
            await ans.stop()
        self.running.clear()


@pytest.fixture
async def agents(tmp_path: Path) -> AsyncIterator[Agents]:
    group = Agents(tmp_path / "agents")
    yield group
    await group.stop_all()


async def admin(s: Settings, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call the running app's admin endpoint."""
    headers = {"Authorization": f"Bearer {s.admin_token.get_secret_value()}"}
    url = f"http://{s.bind_address}:{s.admin_port}{path}"
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.request(method, url, json=body) as resp,
    ):
        return resp.status, await resp.json()


async def wait_queue(
    s: Settings, queue: str, holds: Callable[[QueueLoad], bool], timeout: float = 30
) -> QueueLoad:
    """Until AMI QueueSummary shows ``queue`` as ``holds`` wants it; its figures then."""
    ami = Ami(s)
    await ami.connect()
    seen: list[QueueLoad] = []  # each change, for the failure message
    try:
        async with asyncio.timeout(timeout):
            while True:
                loads = parse_queue_summary(
                    list(await ami.action({"Action": "QueueSummary"}, as_list=True))
                )
                load = loads.get(queue)
                if load is not None and holds(load):
                    return load
                if load is not None and (not seen or seen[-1] != load):
                    seen.append(load)
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"queue {queue} within {timeout} s: {seen}") from None
    finally:
        ami.close()


async def route_decision(s: Settings, caller: str, called: str) -> dict[str, str]:
    """What the running app decides for ``caller`` now (grade, queue, shedding level),
    asked as a site's dialplan asks: FastAGI ``route``, the test playing Asterisk."""
    reader, writer = await asyncio.open_connection(s.agi_host, s.agi_port)
    header = (
        "agi_network: yes\nagi_network_script: route\n"
        f"agi_request: agi://{s.agi_host}/route\nagi_channel: PJSIP/probe-0001\n"
        f"agi_uniqueid: probe-{time.monotonic_ns()}\nagi_callerid: {caller}\n"
        f"agi_dnid: {called}\nagi_extension: {called}\nagi_arg_1: {called}\n\n"
    )
    found: dict[str, str] = {}
    try:
        writer.write(header.encode())
        await writer.drain()
        async with asyncio.timeout(10):
            while "AGI_APP_STATUS" not in found:
                line = (await reader.readline()).decode().strip()
                if not line:
                    raise AssertionError(f"route: closed after {found}")
                if line.startswith("SET VARIABLE "):
                    name, _, value = line.removeprefix("SET VARIABLE ").partition(" ")
                    found[name] = value.strip('"')
                writer.write(b"200 result=1\n")
                await writer.drain()
    finally:
        writer.close()
    return found


async def wait_app_sheds(s: Settings, level: int, timeout: float = 30) -> None:
    """Until the running app gives an unknown caller at least shedding ``level``
    (its live-load monitor has seen what AMI shows)."""
    async with asyncio.timeout(timeout):
        while True:
            decided = await route_decision(s, "19900000009", "10086")
            if int(decided["AGI_APP_SHEDDING_LEVEL"]) >= level:
                return
            await asyncio.sleep(0.1)

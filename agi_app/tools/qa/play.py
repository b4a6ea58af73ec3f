"""Playing a QA scenario on the real stack: agents, callers, a phone; then the checks.

The run watches Asterisk over AMI (``QueueCallerJoin``: a caller is queued;
``AgentConnect``: a caller reached an agent), which both starts callers that
wait on another party (``after: occ1 connected``) and gives the order in which
callers reached agents. Journeys are read from PostgreSQL, callbacks from the
``callbacks`` table and from the customers' phone, a SIPp answerer on the
pstn trunk's port. Every SIPp started here is stopped on the way out, on a
failure or a cancellation (Ctrl-C, SIGTERM) too, and the business clock is
put back as it was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from agi_app.adapters.ami.client import Ami
from agi_app.adapters.postgres.journey_queries import wait_journey
from agi_app.core.numbers import normalise
from agi_app.settings import Settings
from agi_app.tools.qa import heard_call
from agi_app.tools.qa.answer_scenario import build_answerer, build_busy_agent
from agi_app.tools.qa.expect import (
    CallbackExpect,
    Connect,
    Dialled,
    HeardExpect,
    JourneyExpect,
    Seen,
    Verdict,
)
from agi_app.tools.qa.plan import Caller, Scenario
from agi_app.tools.qa.recorder import RecordedCall
from agi_app.tools.qa.runner import Answerer, SippResult, run_callers
from agi_app.tools.qa.scenario import build_caller, keys_unsent, parse_keys

Say = Callable[[str], None]
JOURNEY_WAIT_S = 15  # journeys are written in batches after the call ends


class Timeline:
    """What happened when, per caller; callers wait here on each other."""

    def __init__(self, say: Say) -> None:
        self.t0 = time.monotonic()
        self.say = say
        self._flags: dict[tuple[str, str], asyncio.Event] = {}

    def t(self) -> float:
        return time.monotonic() - self.t0

    def _flag(self, caller: str, event: str) -> asyncio.Event:
        return self._flags.setdefault((caller, event), asyncio.Event())

    def mark(self, caller: str, event: str, detail: str = "") -> None:
        if not self._flag(caller, event).is_set():  # the first time counts
            self._flag(caller, event).set()
            self.say(f"  t+{self.t():5.1f}s  {caller} {event} {detail}".rstrip())

    async def wait(self, caller: str, event: str) -> None:
        await self._flag(caller, event).wait()


class Admin:
    """The running app's admin endpoint: the business clock, kept and put back."""

    def __init__(self, s: Settings) -> None:
        self.base = f"http://{s.bind_address}:{s.admin_port}"
        self.headers = {"Authorization": f"Bearer {s.admin_token.get_secret_value()}"}
        self._before: tuple[dt.datetime, float] | None = None  # business time, taken at
        self._changed = False
        self._shedding_before: int | None = None
        self._shedding_changed = False

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession(headers=self.headers) as session,
            session.request(method, self.base + path, json=body) as resp,
        ):
            data: dict[str, Any] = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"{method} {path}: HTTP {resp.status} {data}")
            return data

    async def set_clock(self, when: dt.datetime) -> None:
        m = await self._call("GET", "/admin/stats")
        if m.get("business_clock_overridden"):
            self._before = (dt.datetime.fromisoformat(m["business_clock"]), time.monotonic())
        self._changed = True
        await self._call("POST", "/admin/clock", {"now": when.isoformat()})

    async def set_shedding(self, level: int) -> None:
        m = await self._call("GET", "/admin/stats")
        self._shedding_before = m.get("shedding_override")
        self._shedding_changed = True
        await self._call("POST", "/admin/shedding", {"level": level})

    async def restore(self) -> None:
        if self._shedding_changed:
            await self._call("POST", "/admin/shedding", {"level": self._shedding_before})
        if not self._changed:
            return
        when = None
        if self._before is not None:  # it was shifted: shift it back, time having run on
            then, taken = self._before
            when = (then + dt.timedelta(seconds=time.monotonic() - taken)).isoformat()
        await self._call("POST", "/admin/clock", {"now": when})


async def _start_parties(scn: Scenario, s: Settings, ports: dict[str, int], work: Path) -> Any:
    started: dict[str, Answerer] = {}
    try:
        for name, a in scn.agents.items():
            xml = (
                build_busy_agent(work / name, name=name)
                if a.busy
                else build_answerer(work / name, hold_ms=a.talk_ms(), name=name)
            )
            started[name] = Answerer(xml, ports[name], a.media_port)
            await started[name].start()
        if scn.phone is not None:
            xml = build_answerer(work / "phone", hold_ms=int(scn.phone.talk_s * 1000), name="phone")
            started["phone"] = Answerer(xml, s.pstn_port, scn.phone.media_port)
            await started["phone"].start()
    except BaseException:
        await asyncio.gather(*(a.stop() for a in started.values()))
        raise
    return started


async def _place(
    cid: str,
    c: Caller,
    tl: Timeline,
    work: Path,
    s: Settings,
    recorded: dict[str, RecordedCall | None],
) -> SippResult | RecordedCall:
    if c.at:
        await asyncio.sleep(max(0.0, c.at - tl.t()))
    for cond in c.after:
        other, event = cond.split()
        await tl.wait(other, event)
    if c.delay_s:
        await asyncio.sleep(c.delay_s)
    if cid in recorded:  # a heard expectation: the recording user agent places it
        tl.mark(cid, "started", f"({c.number} calls {c.line}, recorded)")
        rec = await heard_call.place(s, parse_keys(c.keys), c.number, c.line, c.timeout_s)
        recorded[cid] = rec
        tl.mark(cid, "ended", f"({rec.summary()})")
        return rec
    xml = build_caller(parse_keys(c.keys), work / cid, expect_cause=c.cause)
    tl.mark(cid, "started", f"({c.number} calls {c.line})")
    result = await run_callers(
        xml,
        service=c.line,
        callers=[c.number],
        calls=1,
        limit=1,
        timeout_s=c.timeout_s,
        sip_port=c.port,
        media_port=c.media_port,
    )
    unsent = keys_unsent(result.log)  # the call went well, but not every key was sent
    tl.mark(cid, "ended", f"({result.summary()}{f'; {unsent}' if unsent else ''})")
    return result


def _heard(s: Settings, recorded: dict[str, RecordedCall | None], seen: Seen) -> None:
    """Match each recorded caller's recording against its journey's prompts."""
    for cid, rec in recorded.items():
        journey = seen.journeys.get(cid)
        if rec is None or journey is None:
            continue
        try:
            seen.heard[cid] = heard_call.report(s, rec, journey["steps"])
        except (OSError, ValueError) as exc:
            seen.heard[cid] = f"cannot check the recording: {exc}"


def _watch(ami: Ami, scn: Scenario, tl: Timeline, seen: Seen) -> None:
    by_number = {c.number: cid for cid, c in scn.callers.items()}

    def joined(_m: Any, e: Any) -> None:
        cid = by_number.get(e.get("CallerIDNum", ""))
        if cid:
            tl.mark(cid, "queued", f"(queue {e.get('Queue')}, position {e.get('Position')})")

    def connected(_m: Any, e: Any) -> None:
        number, agent, queue = e.get("CallerIDNum", ""), e.get("MemberName", ""), e.get("Queue")
        cid = by_number.get(number)
        seen.connects.append(Connect(tl.t(), cid, number, agent, queue or ""))
        if cid:
            tl.mark(cid, "connected", f"(to {agent}, queue {queue})")
        else:
            who = f"{e.get('Channel')} (caller id {number})"
            tl.say(f"  t+{tl.t():5.1f}s  {who} connected (to {agent}, queue {queue})")

    ami.manager.register_event("QueueCallerJoin", joined)
    ami.manager.register_event("AgentConnect", connected)


async def _journeys(conn: Any, scn: Scenario, since: dt.datetime, seen: Seen) -> None:
    wanted = sorted(
        {e.journey for e in scn.expect if isinstance(e, JourneyExpect)}
        | {e.heard for e in scn.expect if isinstance(e, HeardExpect)}
    )
    deadline = time.monotonic() + JOURNEY_WAIT_S
    for cid in wanted:
        left = max(0.5, deadline - time.monotonic())
        try:
            seen.journeys[cid] = await wait_journey(conn, scn.callers[cid].number, since, left)
        except TimeoutError:
            seen.journeys[cid] = None


async def _callbacks(
    conn: Any, scn: Scenario, since: dt.datetime, phone: Answerer | None, seen: Seen, end: float
) -> None:
    """Wait until each expected callback rang the phone, or its time is up."""
    for exp in (e for e in scn.expect if isinstance(e, CallbackExpect)):
        while True:
            row = await conn.fetchrow(
                "SELECT requested_at, state, attempts FROM callbacks WHERE number = $1"
                " AND requested_at >= $2 ORDER BY id DESC LIMIT 1",
                exp.e164,
                since,
            )
            seen.callbacks[exp.e164] = None if row is None else dict(row)
            seen.dialled = [
                Dialled(a.at, normalise(a.to) or a.to)
                for a in (phone.answered() if phone else [])
                if a.accepted
            ]
            rang = any(d.number == exp.e164 for d in seen.dialled)
            late = row is not None and (
                dt.datetime.now(dt.UTC) - row["requested_at"]
            ).total_seconds() > (exp.within_s + 1)
            if rang or late or time.monotonic() > end:
                break
            await asyncio.sleep(0.25)


async def cancel_open_callbacks(conn: Any, scn: Scenario, say: Say) -> None:
    """A callback still open from an earlier run would block booking a new one."""
    for exp in (e for e in scn.expect if isinstance(e, CallbackExpect)):
        n = await conn.fetchval(
            "WITH c AS (UPDATE callbacks SET state = 'cancelled' WHERE number = $1"
            " AND state IN ('pending', 'dialing') RETURNING 1) SELECT count(*) FROM c",
            exp.e164,
        )
        if n:
            say(f"setup: cancelled {n} open callback(s) for {exp.e164} left by an earlier run")


async def play(
    scn: Scenario, s: Settings, agent_ports: dict[str, int], work: Path, say: Say
) -> list[Verdict]:
    """Run the scenario; the verdicts, calls first, then each expectation in order."""
    seen, admin, tl = Seen(), Admin(s), Timeline(say)
    ami = Ami(s, events=True)
    await ami.connect()
    try:
        conn = await asyncpg.connect(s.pg_dsn)
    except BaseException:
        ami.close()
        raise
    parties: dict[str, Answerer] = {}
    tasks: dict[str, asyncio.Task[SippResult | RecordedCall]] = {}
    try:
        await cancel_open_callbacks(conn, scn, say)
        if scn.clock is not None:
            await admin.set_clock(scn.clock)
            say(f"setup: business clock {scn.clock.isoformat()} (put back after the run)")
        if scn.shedding is not None:
            await admin.set_shedding(scn.shedding)
            say(
                f"setup: shedding level {scn.shedding} for every caller not exempt (put back after)"
            )
        parties = await _start_parties(scn, s, agent_ports, work)
        _watch(ami, scn, tl, seen)
        since = dt.datetime.now(dt.UTC)
        tl.t0 = time.monotonic()
        end = tl.t0 + scn.timeout_s
        recorded: dict[str, RecordedCall | None] = {
            e.heard: None for e in scn.expect if isinstance(e, HeardExpect)
        }
        tasks = {
            cid: asyncio.create_task(_place(cid, c, tl, work, s, recorded))
            for cid, c in scn.callers.items()
        }
        _, pending = await asyncio.wait(tasks.values(), timeout=scn.timeout_s)
        for task in pending:
            task.cancel()
        await _journeys(conn, scn, since, seen)
        _heard(s, recorded, seen)
        await _callbacks(conn, scn, since, parties.get("phone"), seen, end)
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await asyncio.gather(*(p.stop() for p in parties.values()), return_exceptions=True)
        try:
            await admin.restore()
        finally:
            await conn.close()
            ami.close()
    return [_call_verdict(cid, t, work / cid) for cid, t in tasks.items()] + [
        e.check(seen) for e in scn.expect
    ]


def _call_verdict(cid: str, task: asyncio.Task[SippResult | RecordedCall], work: Path) -> Verdict:
    what = f"call {cid}"
    if task.cancelled():
        return Verdict(False, what, "did not finish within the scenario's timeout_s")
    if task.exception() is not None:
        return Verdict(False, what, f"error: {task.exception()}")
    r = task.result()
    if r.successful == 1:
        return Verdict(True, what, r.summary())
    errors = [
        line
        for f in sorted(work.glob("*_errors.log"))
        for line in f.read_text(errors="replace").splitlines()
        if line.strip()
    ]
    return Verdict(False, what, r.summary() + "".join(f"\n    {e}" for e in errors[-3:]))

"""Helpers of the fault and hostile-input tests (issue 15): load in the
background, counting journeys, reading the app's figures and its log."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from agi_app.settings import Settings
from agi_app.tools.qa.runner import SippResult, run_callers
from agi_app.tools.qa.scenario import build_caller, parse_keys

# A call of the demo line (100): greeting, 1, announcement, BYE with cause 16.
DEMO = "100"
PRESS_1 = "wait 1; 1"


def new_callers(n: int, head: str = "139") -> list[str]:
    """``n`` caller numbers no other test uses (a random block of 11-digit numbers)."""
    block = f"{head}{random.randrange(10**4):04d}"
    return [f"{block}{i:04d}" for i in range(n)]


def load(
    tmp_path: Path,
    callers: list[str],
    *,
    rate: float,
    keys: str = PRESS_1,
    cause: int | None = 16,
    number: str = DEMO,
    call_timeout_s: int = 30,
    timeout_s: float = 60,
) -> asyncio.Task[SippResult]:
    """One caller per number of ``callers`` at ``rate`` calls/s, in the background."""
    work = tmp_path / f"load-{time.monotonic_ns()}"
    scenario = build_caller(parse_keys(keys), work, expect_cause=cause)
    return asyncio.create_task(
        run_callers(
            scenario,
            service=number,
            callers=callers,
            calls=len(callers),
            rate=rate,
            limit=max(10, len(callers)),
            timeout_s=timeout_s,
            call_timeout_s=call_timeout_s,
        )
    )


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    """Poll ``check`` every 0.1 s until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


async def journeys(
    s: Settings, callers: list[str], since: dt.datetime, *, ended_only: bool = False
) -> list[dict[str, Any]]:
    """The journeys of ``callers`` since ``since``, each with its node path."""
    conn = await asyncpg.connect(s.pg_dsn)
    try:
        rows = await conn.fetch(
            "SELECT c.*, count(s.seq) AS steps, max(s.seq) AS last_seq,"
            " coalesce(string_agg(s.node, ' > ' ORDER BY s.seq), '') AS path"
            " FROM calls c LEFT JOIN call_steps s ON s.call_id = c.id"
            " WHERE c.caller = ANY($1) AND c.started_at >= $2"
            + (" AND c.ended_at IS NOT NULL" if ended_only else "")
            + " GROUP BY c.id, c.started_at",
            callers,
            since,
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


def _get(url: str, token: str = "") -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return str(resp.read().decode())


async def metrics_text(s: Settings) -> str:
    """The app's Prometheus page (from loopback: no token)."""
    return await asyncio.to_thread(_get, f"http://{s.bind_address}:{s.admin_port}/metrics")


def metric(text: str, name: str) -> float | None:
    """The value of an unlabelled sample ``name`` in a Prometheus page."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def rss_kb(pid: int) -> int:
    """Resident memory of a process, in kB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class LogTail:
    """What a log file gained since this object was made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def text(self) -> str:
        if not self.path.exists():
            return ""
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            return fh.read().decode(errors="replace")


# An exception that escapes a call task, a FastAGI request, an ARI event or a
# background loop is logged at ERROR (``log.exception`` at each boundary,
# asyncio's "Task exception was never retrieved"); so is anything else gone wrong.
# Libraries' own reports of an outage (panoramisk's "Connection lost") are not ours.
ERROR_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ (ERROR|CRITICAL) (agi_app|asyncio|aiohttp)")


def escaped_exceptions(log_text: str) -> list[str]:
    """The app log's ERROR and CRITICAL lines of our code and of asyncio or aiohttp."""
    return [line for line in log_text.splitlines() if ERROR_LINE.match(line)]

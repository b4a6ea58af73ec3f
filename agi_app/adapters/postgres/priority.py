"""Real-time priority for the per-call lookup's PostgreSQL sessions, when
PostgreSQL runs on this host.

The app itself runs at real-time priority; the backend that answers its lookup
did not, and on a box whose cores Asterisk keeps busy a woken backend waited for
one: the lookup's p99 at 100 calls/s was 2.5-3.3 ms, with those backends at
SCHED_RR 1.5-1.7 ms (measured, docs/BENCHMARKS.md). Each lookup is one bounded,
indexed statement (and the session's ``statement_timeout`` bounds any other), so
the priority cannot let a session hold a core.

A backend is only touched once it is shown to be this connection's own: its pid
(from the connection) is a local ``postgres`` process whose title names the
client port the server sees for this connection. A PostgreSQL elsewhere (another
host, a container's pid space) never matches and keeps its priority.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROC = Path("/proc")


def own_backend(pid: int, client_port: int | None, proc: Path = PROC) -> str | None:
    """None if ``pid`` is, on this host, the PostgreSQL backend of the connection
    whose client port the server sees as ``client_port``; else why not."""
    if client_port is None:
        return "the session is not over TCP (no client port to match)"
    try:
        comm = (proc / str(pid) / "comm").read_text().strip()
        title = (
            (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return "its backend's pid is not a process on this host"
    if comm != "postgres":
        return "its backend's pid is another program on this host, not PostgreSQL"
    if f"({client_port})" not in title:
        return "its backend's pid is another PostgreSQL session on this host"
    return None


def realtime_sessions(priority: int, proc: Path = PROC) -> Callable[[Any], Awaitable[None]]:
    """An asyncpg ``init`` hook: each new connection's backend at SCHED_RR
    ``priority`` when it is on this host and ours. Never fails the connection;
    says once why it could not (a remote server, no CAP_SYS_NICE): the reasons
    name no pid, so a pool that reconnects all day logs each of them once."""
    said: set[str] = set()

    def say(level: int, text: str, detail: str = "") -> None:
        if text not in said:  # bounded: the texts are a handful of fixed ones
            said.add(text)
            log.log(level, "%s%s", text, f" ({detail})" if detail else "")

    async def init(conn: Any) -> None:
        try:
            pid = conn.get_server_pid()
            port = await conn.fetchval("SELECT inet_client_port()")
            why = own_backend(pid, port, proc)
            if why is not None:
                say(logging.INFO, f"lookup sessions keep their priority: {why}")
                return
            os.sched_setscheduler(pid, os.SCHED_RR, os.sched_param(priority))
            say(logging.INFO, f"lookup sessions at real-time priority {priority} (SCHED_RR)")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a priority is never worth a connection
            say(
                logging.WARNING,
                f"lookup sessions' real-time priority {priority} not set: {type(exc).__name__}",
                detail=str(exc),
            )

    return init

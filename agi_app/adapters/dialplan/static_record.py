"""The static menu's call records, imported into the journeys.

Calls the app never saw (it was stopping or down, FastAGI too) are served by
the dialplan's static menu (dialplan/40-static.conf), which appends one line
per call when it hangs up::

    uniqueid|start epoch|end epoch|caller|called|QUEUESTATUS|HANGUPCAUSE

The importer takes the file away by renaming it (Asterisk opens it anew for
every line, so the next call starts a fresh file), turns each line into a
journey (``via`` ``static``, outcome ``fallback``) through the journey sink,
waits until the writer has the events in PostgreSQL or its spool, and only
then removes the taken file. A crash in between imports it again at the next
start: the inserts are idempotent (the call id is the key). A call the app
handed to the static menu while stopping keeps its own start and steps; the
record only ends it (end time, cause, queue status).

Lines are checked field by field; a line that does not read is logged and
skipped, never guessed at.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from agi_app.core.journey import CallEnd, CallStart, JourneyEvent, JourneySink

log = logging.getLogger(__name__)

RECORD = Path("var/spool/asterisk/agi_app/static-calls.log")  # inside the Asterisk root
TAKEN_SUFFIX = ".importing"
MAX_LINE = 400
_LINE = re.compile(
    r"(?P<id>[0-9]{1,20}\.[0-9]{1,10})\|(?P<start>[0-9]{1,12})\|(?P<end>[0-9]{1,12})"
    r"\|(?P<caller>\+?[0-9]{0,32})\|(?P<called>[0-9]{0,32})\|(?P<queue>[A-Z]{0,20})"
    r"\|(?P<cause>[0-9]{0,3})"
)


@dataclass(frozen=True)
class StaticCall:
    """One line of the record."""

    call_id: str
    started_at: dt.datetime
    ended_at: dt.datetime
    caller: str
    called: str
    queue_status: str
    hangup_cause: int | None

    def events(self) -> list[JourneyEvent]:
        facts = {"queue": "support", "queue_status": self.queue_status or None}
        return [
            CallStart(self.call_id, self.caller, self.called, "static", self.started_at),
            CallEnd(self.call_id, self.ended_at, "fallback", self.hangup_cause, facts),
        ]


def parse_line(line: str) -> StaticCall | None:
    """A record line, or None if it does not read."""
    m = _LINE.fullmatch(line.strip()[:MAX_LINE])
    if m is None:
        return None
    start, end = int(m["start"]), int(m["end"])
    return StaticCall(
        m["id"],
        dt.datetime.fromtimestamp(start, dt.UTC),
        dt.datetime.fromtimestamp(max(start, end), dt.UTC),
        m["caller"],
        m["called"],
        m["queue"],
        int(m["cause"]) if m["cause"] else None,
    )


class StaticRecordImporter:
    """Imports the record every ``interval_s`` (and at once when started)."""

    def __init__(
        self,
        path: Path,
        journey: JourneySink,
        flush: Callable[[], Awaitable[None]],
        interval_s: float = 2.0,
    ) -> None:
        self.path = path
        self.journey = journey
        self.flush = flush
        self.interval_s = interval_s
        self.imported = 0
        self.skipped = 0

    async def run(self) -> None:
        while True:
            try:
                await self.import_once()
            except (OSError, TimeoutError) as exc:  # kept: the next round imports it
                log.warning("static call record %s: %r", self.path, exc)
            await asyncio.sleep(self.interval_s)

    async def import_once(self) -> int:
        """Import what the dialplan recorded so far; how many calls."""
        taken = self.path.with_name(self.path.name + TAKEN_SUFFIX)
        if not taken.exists():  # else a crash left one: import that first
            try:
                os.rename(self.path, taken)
            except FileNotFoundError:
                return 0
        text = await asyncio.to_thread(taken.read_text, "utf-8", "replace")
        calls = []
        for line in text.splitlines():
            call = parse_line(line)
            if call is None:
                if line.strip():
                    self.skipped += 1
                    log.warning("static call record: unreadable line skipped: %r", line[:200])
                continue
            calls.append(call)
        for call in calls:
            for event in call.events():
                self.journey.emit(event)
        await self.flush()  # in PostgreSQL or the spool: only then is the file gone
        taken.unlink()
        self.imported += len(calls)
        if calls:
            log.info("static menu: %d calls imported into the journeys", len(calls))
        return len(calls)

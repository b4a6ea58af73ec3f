"""The business clock: the only place the application reads the time.

For QA the clock can be set to a fixed point or an offset (AGI_APP_BUSINESS_CLOCK,
``agi-app run --clock``, or the runtime admin command), so that month-end
rules can be exercised on any day. Decisions (shedding, routing, flow
branches) read the business clock; records (journey timestamps) read
``wall_now``: a journey says when the call really happened, so QA on a shifted
clock never puts calls on another day of the operators' report.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)
# The years the business clock may act in. Beyond them ``now() + offset`` can
# leave datetime's range (year 1 to 9999) and every reading of the clock raise.
FIRST_YEAR, LAST_YEAR = 2000, 2199


def check_business_time(when: datetime) -> None:
    """ValueError unless ``when`` is in FIRST_YEAR..LAST_YEAR (read as written)."""
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        raise ValueError(
            f"the business clock must be in {FIRST_YEAR}-{LAST_YEAR}, not {when.isoformat()}"
        )


class Clock(Protocol):
    def now(self) -> datetime: ...


def wall_now() -> datetime:
    """Real time (UTC), for records."""
    return datetime.now(UTC)


class BusinessClock:
    """Wall clock in the hotline's time zone, optionally shifted for QA."""

    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        self.tz = ZoneInfo(tz)
        self._offset: timedelta | None = None

    def set(self, when: datetime | None) -> None:
        """Act as if it were ``when`` now (time keeps running); None resets.
        ValueError, and nothing changed, for a time outside the years allowed."""
        if when is None:
            self._offset = None
            log.warning("business clock reset to real time")
            return
        check_business_time(when)
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.tz)
        self._offset = when - datetime.now(self.tz)
        log.warning("business clock set: acting as if it were %s", when.isoformat())

    @property
    def overridden(self) -> bool:
        return self._offset is not None

    @property
    def offset(self) -> timedelta | None:
        """How far the business clock is from the real one (None: not shifted)."""
        return self._offset

    def set_offset(self, offset: timedelta | None) -> None:
        """Shift by ``offset`` (another node's ``offset``: the same business time there).
        ValueError, and nothing changed, when it lands outside the years allowed."""
        if offset is not None:
            try:
                check_business_time(datetime.now(self.tz) + offset)
            except OverflowError:
                raise ValueError(f"a business clock offset of {offset} is out of range") from None
        self._offset = offset
        if offset is None:
            log.warning("business clock reset to real time")
        else:
            log.warning("business clock set: acting as if it were %s", self.now().isoformat())

    def now(self) -> datetime:
        real = datetime.now(self.tz)
        return real if self._offset is None else real + self._offset

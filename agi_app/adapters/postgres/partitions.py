"""The daily partitions of ``calls`` and ``call_steps`` (migrations/0009).

Both tables are range-partitioned on ``started_at`` (for a step: its call's
start), one partition per UTC day, named ``calls_pYYYYMMDD`` and
``call_steps_pYYYYMMDD``, with a default partition each that catches a row no
day partition takes. The keeper:

- creates the partitions from yesterday to ``ahead`` days ahead. A new one is
  made as a plain table and attached (``ATTACH PARTITION`` takes a lock on the
  parent that lets inserts go on; ``CREATE TABLE ... PARTITION OF`` would block
  them). Rows of that day already in the default partition (written before it
  existed) are moved into it first, so PostgreSQL's check of the default passes.
- analyzes a partition of ``calls`` that has rows and no statistics yet (see
  ``analyze_fresh``).
- drops the partitions of days older than the retention (0: keep forever). A
  drop takes an exclusive lock on the parent for a moment, so each is its own
  short transaction with a ``lock_timeout`` under the journey writer's deadline:
  behind a long report it gives up and the next run drops it.

The app runs it at start and every five minutes (``PartitionKeeper``: cheap
when nothing is due); ``agi-app journeys partitions --ensure --drop-old`` runs
it by hand. Every change happens under a transaction-level advisory lock, so
several nodes running it at once take turns, and the second finds the work
done. Days are UTC; a report day of the hotline's zone spans two partitions.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

TABLES = ("calls", "call_steps")  # both partitioned by started_at (the call's start)
LOCK_KEY = 72010087  # the migrator holds 72010086
LOCK_TIMEOUT = "1s"  # under the journey writer's deadline (2 s by default)
TURN_TIMEOUT = "60s"  # waiting for another node's run
NAME = re.compile(r"^(calls|call_steps)_p(\d{8})$")

CHILDREN_SQL = """
SELECT p.relname AS parent, c.relname AS name, c.reltuples::bigint AS reltuples,
       s.n_live_tup AS live
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE p.oid IN (to_regclass('calls'), to_regclass('call_steps'))
ORDER BY p.relname, c.relname
"""
# Partitions of calls with rows and no statistics yet: a new day's, before
# autovacuum has come by (it comes within minutes, or later when it is busy).
# The file size is current, where the statistics views trail by a second or more.
FRESH_SQL = """
SELECT c.relname AS name FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass('calls') AND pg_relation_size(c.oid) > 0
  AND NOT EXISTS (SELECT 1 FROM pg_stats s WHERE s.tablename = c.relname
                  AND s.schemaname = c.relnamespace::regnamespace::text AND s.attname = 'id')
"""
PARTITIONED_SQL = """
SELECT count(*) FROM pg_partitioned_table
WHERE partrelid IN (to_regclass('calls'), to_regclass('call_steps'))
"""


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def day_of(name: str) -> date | None:
    """The day a partition of ours holds, from its name (None: not one of ours)."""
    m = NAME.match(name)
    return None if m is None else datetime.strptime(m.group(2), "%Y%m%d").date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    lo = datetime.combine(day, time(), UTC)
    return lo, lo + timedelta(days=1)


def days_to_keep_ready(today: date, ahead: int) -> list[date]:
    """Yesterday (late events of a call around midnight) to ``ahead`` days ahead."""
    return [today + timedelta(days=k) for k in range(-1, ahead + 1)]


def expired(days: Iterable[date], today: date, retention_days: int) -> list[date]:
    """The days wholly older than the retention (none when it is 0: keep forever)."""
    if retention_days <= 0:
        return []
    cutoff = today - timedelta(days=retention_days)
    return sorted(d for d in days if d < cutoff)


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Partition:
    """One partition and its rows: counted with ``exact``, else PostgreSQL's
    estimate (live rows from its statistics, which trail writes by a second)."""

    table: str
    name: str
    day: date | None  # None: the default partition
    rows: int
    exact: bool

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["day"] = self.day.isoformat() if self.day else None
        return out


async def partitioned(conn: Any) -> bool:
    """Both journey tables are partitioned (migration 0009 applied)."""
    return int(await conn.fetchval(PARTITIONED_SQL)) == len(TABLES)


async def _children(conn: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {t: set() for t in TABLES}
    for r in await conn.fetch(CHILDREN_SQL):
        out[r["parent"]].add(r["name"])
    return out


async def list_partitions(conn: Any, exact: bool = False) -> list[Partition]:
    """Every partition of both tables, the default last, with its rows."""
    out = []
    for r in await conn.fetch(CHILDREN_SQL):
        if exact:
            rows = int(await conn.fetchval(f'SELECT count(*) FROM "{r["name"]}"'))
        else:
            rows = int(r["live"] if r["live"] is not None else max(r["reltuples"], 0))
        out.append(Partition(r["parent"], r["name"], day_of(r["name"]), rows, exact))
    return sorted(out, key=lambda p: (p.table, p.day is None, p.day or date.min))


def _literal(moment: datetime) -> str:
    return f"'{moment:%Y-%m-%d %H:%M:%S}+00'"  # our own UTC midnight, never user input


async def _create(conn: Any, table: str, day: date) -> None:
    """Create the day's partition of ``table`` and attach it, moving into it the
    rows of that day the default partition holds."""
    name = partition_name(table, day)
    lo, hi = day_bounds(day)
    await conn.execute(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS)')
    default = f"{table}_default"
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", default):
        # Nothing may reach the default for this day between the move and the attach.
        await conn.execute(f'LOCK TABLE "{default}" IN ACCESS EXCLUSIVE MODE')
        moved = await conn.execute(
            f'WITH moved AS (DELETE FROM "{default}" WHERE started_at >= $1'
            f' AND started_at < $2 RETURNING *) INSERT INTO "{name}" SELECT * FROM moved',
            lo,
            hi,
        )
        if moved != "INSERT 0 0":
            log.info("%s: %s rows moved from %s", name, moved.split()[-1], default)
    await conn.execute(
        f'ALTER TABLE "{table}" ATTACH PARTITION "{name}"'
        f" FOR VALUES FROM ({_literal(lo)}) TO ({_literal(hi)})"
    )


async def _take_turn(conn: Any) -> None:
    """Wait for another node's run to end (it is short), then bound our own waits
    for the tables' locks (see LOCK_TIMEOUT)."""
    await conn.execute(f"SET LOCAL lock_timeout = '{TURN_TIMEOUT}'")
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
    await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


async def ensure_partitions(conn: Any, days: Iterable[date]) -> list[str]:
    """Create the missing partitions of ``days`` in both tables; the names created."""
    wanted = sorted(set(days))
    created: list[str] = []
    async with conn.transaction():
        await _take_turn(conn)
        have = await _children(conn)
        for day in wanted:
            for table in TABLES:
                if partition_name(table, day) not in have[table]:
                    await _create(conn, table, day)
                    created.append(partition_name(table, day))
    return created


async def drop_old_partitions(conn: Any, today: date, retention_days: int) -> list[str]:
    """Drop the partitions of days older than the retention, steps first; the names
    dropped. Each drop is its own transaction (see the module docstring)."""
    have = await _children(conn)
    dropped: list[str] = []
    for table in ("call_steps", "calls"):
        days = [d for d in (day_of(n) for n in have[table]) if d is not None]
        for day in expired(days, today, retention_days):
            name = partition_name(table, day)
            async with conn.transaction():
                await _take_turn(conn)
                if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name):
                    await conn.execute(f'DROP TABLE "{name}"')
                    dropped.append(name)  # else another node's run has just dropped it
    return dropped


async def analyze_fresh(conn: Any) -> list[str]:
    """ANALYZE the partitions of calls that have rows and no statistics yet.

    The journey writer's statements are written to need none (journey_sql),
    but the reports and lookups of a new day are planned better with them.
    Autovacuum analyzes a new partition within a minute or two; this closes
    the gap when it is late."""
    names = [r["name"] for r in await conn.fetch(FRESH_SQL)]
    for name in names:
        await conn.execute(f'ANALYZE "{name}"')
    return names


@dataclass(frozen=True)
class Maintained:
    created: list[str]
    dropped: list[str]
    analyzed: list[str]


async def maintain(conn: Any, today: date, ahead: int, retention_days: int) -> Maintained:
    """Partitions ready ahead, old ones dropped, a new day's analyzed (what the app
    does at start and then every few minutes: cheap when nothing is due)."""
    created = await ensure_partitions(conn, days_to_keep_ready(today, ahead))
    dropped = await drop_old_partitions(conn, today, retention_days)
    return Maintained(created, dropped, await analyze_fresh(conn))


# What a run can meet that the next one may not: the database away, a lock not
# granted within LOCK_TIMEOUT. Anything else is a bug and reaches the supervisor.
RETRYABLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PartitionKeeper:
    """The background loop: ``maintain`` at start, then every ``every_s`` (five
    minutes: cheap when nothing is due, and a new day's partition gets its
    statistics soon); after a failed run, again in ``retry_s``."""

    def __init__(
        self,
        get_pool: Callable[[], Awaitable[Any]],
        ahead: int,
        retention_days: int,
        *,
        today: Callable[[], date] = utc_today,
        every_s: float = 300,
        retry_s: float = 300,
    ) -> None:
        self._get_pool = get_pool
        self.ahead = ahead
        self.retention_days = retention_days
        self._today = today
        self.every_s = every_s
        self.retry_s = retry_s
        self.runs = 0
        self.last: Maintained | None = None

    async def maintain_once(self) -> Maintained | None:
        """One run; None when the database is away or not migrated yet."""
        pool = await self._get_pool()
        if pool is None:
            return None
        async with pool.acquire(timeout=5) as conn:
            if not await partitioned(conn):
                log.warning("journey tables not partitioned yet (run `agi-app migrate`)")
                return None
            done = await maintain(conn, self._today(), self.ahead, self.retention_days)
        self.runs += 1
        self.last = done
        if done.created or done.dropped or done.analyzed:
            log.info(
                "journey partitions: created %s, dropped %s, analyzed %s",
                done.created,
                done.dropped,
                done.analyzed,
            )
        return done

    async def run(self) -> None:
        while True:
            try:
                done = await self.maintain_once()
            except RETRYABLE as exc:
                log.warning(
                    "journey partition upkeep failed (%r); again in %.0f s", exc, self.retry_s
                )
                done = None
            await asyncio.sleep(self.every_s if done is not None else self.retry_s)

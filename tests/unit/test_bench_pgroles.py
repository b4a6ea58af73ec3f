"""PostgreSQL's CPU by who spent it (every app run of the bench): the app's pools by their
session names, PostgreSQL's own processes, those that ended during the run."""

from __future__ import annotations

from agi_app.adapters.postgres.pool import session_name
from agi_app.tools.bench.pgroles import (
    ENDED,
    LOOKUP,
    MAIN,
    OTHER,
    OWN,
    buckets,
    cpu_by_role,
    role_of,
)
from agi_app.tools.bench.procstat import TICK, ProcTimes

PM = 100


def proc(pid: int, own: int, ppid: int = PM, reaped: int = 0) -> ProcTimes:
    return ProcTimes(pid=pid, ppid=ppid, utime=own, stime=0, cutime=reaped, cstime=0)


def test_roles_come_from_the_pools_session_names() -> None:
    assert session_name("ivr1", "lookup") == "agi-app ivr1 lookup"
    assert role_of(session_name("ivr1", "lookup"), "client backend") == "app: lookup"
    assert role_of(session_name("n", "main"), "client backend") == "app: main"
    assert role_of("psql", "client backend") == "other sessions"
    assert role_of("", "walwriter") == "walwriter"
    assert len(session_name("x" * 32, "lookup")) <= 63


def test_cpu_by_role_counts_the_run_only_and_the_processes_that_ended() -> None:
    before = {PM: proc(PM, 5, ppid=1, reaped=7), 1: proc(1, 10), 2: proc(2, 3), 9: proc(9, 50)}
    after = {
        PM: proc(PM, 6, ppid=1, reaped=7 + 4),  # pid 9 ended: 4 ticks in all
        1: proc(1, 10 + 20),  # lookup session: 20 in the run
        2: proc(2, 3 + 2),  # the WAL writer
        3: proc(3, 8),  # a lookup session opened during the run
        4: proc(4, 99, ppid=55),  # not PostgreSQL's
    }
    roles = {1: "app: lookup", 2: "walwriter", 3: "app: lookup"}
    spent = cpu_by_role(before, after, PM, roles)
    assert spent == {
        "app: lookup": 28 / TICK,
        "walwriter": 2 / TICK,
        "postmaster": 1 / TICK,
        ENDED: 4 / TICK,
    }


def test_buckets_put_the_app_pools_apart_and_the_rest_under_postgresql() -> None:
    spent = {
        "app: lookup": 3.0,
        "app: main": 1.0,
        "walwriter": 0.5,
        "autovacuum worker": 0.25,
        ENDED: 0.25,
        "other sessions": 2.0,
    }
    assert buckets(spent) == {LOOKUP: 3.0, MAIN: 1.0, OWN: 1.0, OTHER: 2.0}

"""The joint lookup (customer and complaint-risk history in one statement) reads
what the two separate queries read, on the real schema."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from typing import Any

from agi_app.adapters.postgres.customers import PgCustomerStore
from agi_app.adapters.postgres.pool import LOOKUP_SESSION, Database
from agi_app.adapters.postgres.priority import realtime_sessions
from agi_app.adapters.postgres.risk import JOINT_SQL, PgCustomerWithHistory, PgRiskHistory
from agi_app.core.risk import CallerHistory
from agi_app.service.risk_signals import HISTORY_CALLS
from agi_app.settings import Settings


async def test_the_joint_read_equals_the_two_reads(stack: Settings, db: Any) -> None:
    tail = uuid.uuid4().int % 10**8
    known, history_only, nobody = (f"+86139{tail:08d}", f"+86137{tail:08d}", f"+86135{tail:08d}")
    now = dt.datetime.now(dt.UTC)
    await db.execute(
        "INSERT INTO customers (number, name, grade, tags, language) VALUES ($1, $2, $3, $4, $5)",
        known,
        "测试",
        "gold",
        ["complaint_risk"],
        "zh",
    )
    ids = [f"lookup-db-{uuid.uuid4()}" for _ in range(3)]
    for i, (call_id, number) in enumerate(zip(ids, (known, known, history_only), strict=True)):
        await db.execute(
            "INSERT INTO calls (id, caller, called, via, started_at, caller_e164, outcome, queue,"
            " shedding_level) VALUES ($1, $2, '10086', 'ari', $3, $2, $4, $5, $6)",
            call_id,
            number,
            now - dt.timedelta(hours=1 + i),
            "abandoned" if i == 0 else "completed",
            "support" if i == 0 else None,
            1,
        )
    database = Database(stack)
    try:
        joint = PgCustomerWithHistory(database.pool)
        store, history = PgCustomerStore(database), PgRiskHistory(database.pool)
        for number in (known, history_only, nobody):
            two = (await store.lookup(number), await history.history(number, now))
            assert await joint.lookup_with_history(number, now) == two
        customer, signals = await joint.lookup_with_history(known, now)
        assert customer is not None and customer.grade == "gold"
        assert customer.tags == frozenset({"complaint_risk"})
        assert signals == CallerHistory(
            calls_24h=2, calls_7d=2, agent_during_shedding=1, abandoned_in_queue=1
        )
        assert await joint.lookup_with_history(nobody, now) == (None, CallerHistory())
    finally:
        await database.close()
        await db.execute("DELETE FROM calls WHERE id = ANY($1::text[])", ids)
        await db.execute("DELETE FROM customers WHERE number = $1", known)


async def test_a_caller_with_thousands_of_calls_costs_the_lookup_its_last_50(
    stack: Settings, db: Any
) -> None:
    number = f"+86136{uuid.uuid4().int % 10**8:08d}"
    now = dt.datetime.now(dt.UTC)
    ids = [f"lookup-db-{uuid.uuid4()}" for _ in range(HISTORY_CALLS + 10)]
    await db.executemany(
        "INSERT INTO calls (id, caller, called, via, started_at, caller_e164, outcome)"
        " VALUES ($1, $2, '10086', 'ari', $3, $2, 'completed')",
        [(i, number, now - dt.timedelta(minutes=5 + n)) for n, i in enumerate(ids)],
    )
    database = Database(stack)
    try:
        _, signals = await PgCustomerWithHistory(database.pool).lookup_with_history(number, now)
        assert (signals.calls_24h, signals.calls_7d) == (HISTORY_CALLS, HISTORY_CALLS)
    finally:
        await database.close()
        await db.execute("DELETE FROM calls WHERE id = ANY($1::text[])", ids)


async def test_the_lookup_pool_plans_the_lookup_once_for_every_value(
    stack: Settings,
) -> None:
    """Left to itself PostgreSQL plans a statement's first 5 runs on a connection
    for their values (with 400 days of partitions, 49 ms each); the lookup's own
    sessions plan it generically from the first run."""
    one = stack.model_copy(update={"pg_pool_min": 1, "pg_pool_max": 1})
    now = dt.datetime.now(dt.UTC)
    plans = "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1"
    for session, role, expected in ((LOOKUP_SESSION, "lookup", (1, 0)), (None, "main", (0, 1))):
        database = Database(one, server_settings=session, role=role)
        try:
            await PgCustomerWithHistory(database.pool).lookup_with_history("+8613000000001", now)
            pool = await database.pool()
            row = await pool.fetchrow(plans, JOINT_SQL)
            assert (row["generic_plans"], row["custom_plans"]) == expected
            name = await pool.fetchval("SELECT current_setting('application_name')")
            assert name == f"agi-app {one.node} {role}"  # the pool's role names its sessions
        finally:
            await database.close()


async def test_the_lookup_sessions_run_at_real_time_priority_and_the_main_pool_does_not(
    stack: Settings,
) -> None:
    """On this host the lookup pool's backends are raised to SCHED_RR (as root; a
    user without CAP_SYS_NICE gets a warning and normal priority); the main pool's
    backends keep theirs, and a lookup session stops a statement after 1 s."""
    one = stack.model_copy(update={"pg_pool_min": 1, "pg_pool_max": 1})
    lookup = Database(one, server_settings=LOOKUP_SESSION, role="lookup", init=realtime_sessions(1))
    main = Database(one, role="main")
    try:
        lookup_pool, main_pool = await lookup.pool(), await main.pool()
        lookup_pid = await lookup_pool.fetchval("SELECT pg_backend_pid()")
        main_pid = await main_pool.fetchval("SELECT pg_backend_pid()")
        expected = os.SCHED_RR if os.geteuid() == 0 else os.SCHED_OTHER
        assert os.sched_getscheduler(lookup_pid) == expected
        assert os.sched_getscheduler(main_pid) == os.SCHED_OTHER
        assert await lookup_pool.fetchval("SHOW statement_timeout") == "1s"
    finally:
        await lookup.close()
        await main.close()

"""Customer lookup latency: ``python -m agi_app.tools.bench.lookup`` (stack running).

5,000 caller lookups (normalise + one pooled, parameterised query), 10 % of
them unknown numbers, after 200 warm-up lookups; prints p50/p99/max, first
without and then with the complaint-risk history read beside it (the
difference is what the risk query adds to the lookup).
"""

from __future__ import annotations

import asyncio
import random
import time

import asyncpg

from agi_app.adapters.postgres.customers import PgCustomerStore
from agi_app.adapters.postgres.pool import Database
from agi_app.adapters.postgres.risk import PgRiskHistory
from agi_app.core.risk import load_risk
from agi_app.service.identify import RiskCheck, identify
from agi_app.settings import get_settings


async def main(n: int = 5000) -> None:
    s = get_settings()
    conn = await asyncpg.connect(s.pg_dsn)
    rows = await conn.fetch("SELECT number FROM customers")
    calls = await conn.fetchval("SELECT count(*) FROM calls")
    await conn.close()
    numbers = [r["number"].removeprefix("+86") for r in rows]
    db = Database(s)
    store = PgCustomerStore(db)
    await db.pool()
    risk = RiskCheck(PgRiskHistory(db.pool), load_risk(s.config_dir / "risk.yaml"))
    print(f"customers={len(numbers)} calls={calls}")
    for label, check in (("lookup", None), ("lookup+risk", risk)):
        rnd = random.Random(1)
        for _ in range(200):
            await identify(store, rnd.choice(numbers), 0.15, check)
        times: list[float] = []
        hits = scored = 0
        for i in range(n):
            raw = rnd.choice(numbers) if i % 10 else f"1990000{i:04d}"
            t0 = time.perf_counter()
            who = await identify(store, raw, 0.15, check)
            times.append((time.perf_counter() - t0) * 1000)
            hits += who.status == "ok"
            scored += who.risk is not None
        times.sort()
        print(
            f"{label}: n={n} hits={hits} scored={scored} p50={times[n // 2]:.3f} ms "
            f"p99={times[int(n * 0.99)]:.3f} ms max={times[-1]:.3f} ms"
        )
    await db.close()


if __name__ == "__main__":
    asyncio.run(main())

"""A deterministic demo CRM (about 10,000 customers) and its business data.

Showcase numbers (README) are fixed; the rest are generated from a seed.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from agi_app.core.crm_csv import COLUMNS
from agi_app.settings import Settings

SHOWCASE = [  # number, name, grade, tags, language, status, last_agent
    ("+8613800000001", "王钻石", "diamond", ["vip_manager"], "zh", "active", None),
    ("+8613800000002", "李铂金", "platinum", [], "zh", "active", None),
    ("+8613800000003", "张黄金", "gold", [], "zh", "active", None),
    ("+8613800000004", "刘白银", "silver", [], "zh", "active", None),
    ("+8613800000005", "陈普通", "standard", [], "zh", "active", None),
    ("+8613800000006", "赵欠费", "standard", ["arrears"], "zh", "suspended", None),
    ("+8613800000007", "Alice Smith", "standard", [], "en", "active", None),
    ("+8613800000008", "周回访", "gold", [], "zh", "active", "agent2"),
    ("+8613800000009", "孙老人", "standard", ["elderly"], "zh", "active", None),
]
GRADES = [("diamond", 2), ("platinum", 5), ("gold", 13), ("silver", 25), ("standard", 55)]
PLANS = [
    ("畅享套餐58元", 5800, 10240),
    ("畅享套餐128元", 12800, 40960),
    ("基础套餐19元", 1900, 1024),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"


def customers(count: int, seed: int, now: datetime) -> list[tuple[Any, ...]]:
    """Customer rows (showcase first), ready for COPY."""
    rnd = random.Random(seed)
    rows = [
        (
            n,
            name,
            g,
            "中国移动",
            tags,
            lang,
            15,
            st,
            agent,
            now - timedelta(hours=2) if agent else None,
        )
        for n, name, g, tags, lang, st, agent in SHOWCASE
    ]
    seen = {r[0] for r in rows}
    grades = [g for g, w in GRADES for _ in range(w)]
    while len(rows) < count:
        number = f"+86{rnd.choice(['139', '186', '138'])}{rnd.randrange(10**8):08d}"
        if number in seen:
            continue
        seen.add(number)
        tags = [t for t in ("complaint_risk", "elderly", "roaming") if rnd.random() < 0.05]
        lang = "en" if rnd.random() < 0.05 else "zh"
        status = "suspended" if rnd.random() < 0.03 else "active"
        name = (
            rnd.choice(SURNAMES)
            + rnd.choice(GIVEN)
            + (rnd.choice(GIVEN) if rnd.random() < 0.5 else "")
        )
        agent = f"agent{rnd.randint(1, 4)}" if rnd.random() < 0.02 else None
        contact = now - timedelta(hours=rnd.randint(1, 200)) if agent else None
        rows.append(
            (
                number,
                name,
                rnd.choice(grades),
                rnd.choice(["中国移动", "动感地带", "全球通"]),
                tags,
                lang,
                rnd.randint(1, 28),
                status,
                agent,
                contact,
            )
        )
    return rows


def business(numbers: list[str], seed: int, today: date) -> dict[str, list[tuple[Any, ...]]]:
    """Accounts, bills, payments and bank data for these numbers."""
    rnd = random.Random(seed + 1)
    out: dict[str, list[tuple[Any, ...]]] = {
        k: [] for k in ("accounts", "bills", "payments", "bank_accounts")
    }
    month = today.replace(day=1)
    for n in numbers:
        plan, fee, quota = rnd.choice(PLANS)
        out["accounts"].append(
            (n, rnd.randint(-5000, 30000), plan, fee, rnd.randint(0, quota), quota)
        )
        for back in range(1, 4):  # the last three billed months
            y, mo = divmod(month.year * 12 + month.month - 1 - back, 12)
            m = date(y, mo + 1, 1)
            out["bills"].append(
                (n, m, fee + rnd.randint(0, 3000), m + timedelta(days=44), back > 1)
            )
        paid = datetime.combine(month, datetime.min.time(), UTC) + timedelta(days=rnd.randint(0, 9))
        out["payments"].append((n, paid, rnd.choice([5000, 10000, 20000]), "app"))
        out["bank_accounts"].append((n, f"{int(n[-4:]):04d}", rnd.randint(0, 5_000_000), "active"))
    return out


async def ensure_demo_data(s: Settings, count: int = 10_000, seed: int = 7) -> int:
    """Load the demo set when the customers table is empty; return rows added."""
    conn = await asyncpg.connect(s.pg_dsn)
    try:
        if await conn.fetchval("SELECT count(*) FROM customers"):
            return 0
        now = datetime.now(UTC)
        rows = customers(count, seed, now)
        async with conn.transaction():
            await conn.copy_records_to_table(
                "customers",
                records=rows,
                columns=COLUMNS,
            )
            data = business([r[0] for r in rows], seed, now.date())
            cols = {
                "accounts": [
                    "number",
                    "balance_fen",
                    "plan_name",
                    "plan_fee_fen",
                    "data_used_mb",
                    "data_quota_mb",
                ],
                "bills": ["number", "month", "amount_fen", "due_date", "paid"],
                "payments": ["number", "paid_at", "amount_fen", "channel"],
                "bank_accounts": ["number", "card_last4", "balance_fen", "status"],
            }
            for table, records in data.items():
                await conn.copy_records_to_table(table, records=records, columns=cols[table])
            await conn.executemany(
                "INSERT INTO bank_transactions (number, card_last4, at, amount_fen, merchant)"
                " VALUES ($1, $2, $3, $4, $5)",
                [
                    (n, f"{int(n[-4:]):04d}", now - timedelta(days=d), -amt, m)
                    for n, *_ in rows[:50]
                    for d, amt, m in ((1, 3850, "星巴克"), (3, 129900, "京东"))
                ],
            )
        return len(rows)
    finally:
        await conn.close()

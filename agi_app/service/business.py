"""The PostgreSQL-backed business transactions of the shipped demo flows.

Every query is parameterised. Amounts are fen (bigint) in the database and
yuan strings ("12.50") on the data bus, which prompts read with ``:amount``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from agi_app.core.flows.transactions import (
    TransactionError,
    TransactionRegistry,
    TransactionSpec,
    TxContext,
)


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


class NoArgs(BaseModel):
    pass


class CardArgs(BaseModel):
    card_last4: str = Field(pattern=r"^\d{4}$")


async def _pool(ctx: TxContext) -> Any:
    """The pool, for a known caller; else the transaction fails (on_failure)."""
    if not ctx.caller_e164:
        raise TransactionError("caller unknown")
    pool = await ctx.get_pool()
    if pool is None:
        raise TransactionError("database unavailable")
    return pool


async def _row(ctx: TxContext, sql: str, *args: Any) -> Any:
    pool = await _pool(ctx)
    row = await pool.fetchrow(sql, ctx.caller_e164, *args)
    if row is None:
        raise TransactionError("no data for this caller")
    return row


class Balance(BaseModel):
    balance: str


async def balance(_a: NoArgs, ctx: TxContext) -> Balance:
    row = await _row(ctx, "SELECT balance_fen FROM accounts WHERE number = $1")
    return Balance(balance=yuan(row["balance_fen"]))


class Bill(BaseModel):
    bill_month: str
    bill_amount: str
    bill_due: str
    bill_paid: bool


async def latest_bill(_a: NoArgs, ctx: TxContext) -> Bill:
    row = await _row(
        ctx,
        "SELECT month, amount_fen, due_date, paid FROM bills"
        " WHERE number = $1 ORDER BY month DESC LIMIT 1",
    )
    month: date = row["month"]
    return Bill(
        bill_month=month.strftime("%Y-%m"),
        bill_amount=yuan(row["amount_fen"]),
        bill_due=row["due_date"].isoformat(),
        bill_paid=row["paid"],
    )


class Plan(BaseModel):
    plan_name: str
    plan_fee: str


async def current_plan(_a: NoArgs, ctx: TxContext) -> Plan:
    row = await _row(ctx, "SELECT plan_name, plan_fee_fen FROM accounts WHERE number = $1")
    return Plan(plan_name=row["plan_name"], plan_fee=yuan(row["plan_fee_fen"]))


class Usage(BaseModel):
    data_used_mb: int
    data_quota_mb: int
    data_left_mb: int


async def data_usage(_a: NoArgs, ctx: TxContext) -> Usage:
    row = await _row(ctx, "SELECT data_used_mb, data_quota_mb FROM accounts WHERE number = $1")
    left = max(0, row["data_quota_mb"] - row["data_used_mb"])
    return Usage(
        data_used_mb=row["data_used_mb"], data_quota_mb=row["data_quota_mb"], data_left_mb=left
    )


class Payments(BaseModel):
    payment_count: int
    last_payment_amount: str
    last_payment_date: str


async def recent_payments(_a: NoArgs, ctx: TxContext) -> Payments:
    row = await _row(
        ctx,
        "SELECT count(*) AS n, (array_agg(amount_fen ORDER BY paid_at DESC))[1]"
        " AS last_fen, max(paid_at) AS last_at FROM payments"
        " WHERE number = $1 AND paid_at > now() - interval '90 days'",
    )
    if not row["n"]:
        raise TransactionError("no recent payments")
    return Payments(
        payment_count=row["n"],
        last_payment_amount=yuan(row["last_fen"]),
        last_payment_date=row["last_at"].date().isoformat(),
    )


class CardBalance(BaseModel):
    card_balance: str


async def bank_balance(a: CardArgs, ctx: TxContext) -> CardBalance:
    row = await _row(
        ctx,
        "SELECT balance_fen FROM bank_accounts WHERE number = $1 AND card_last4 = $2",
        a.card_last4,
    )
    return CardBalance(card_balance=yuan(row["balance_fen"]))


class CardTxns(BaseModel):
    txn_count: int
    last_txn_amount: str
    last_txn_merchant: str


async def bank_recent(a: CardArgs, ctx: TxContext) -> CardTxns:
    row = await _row(
        ctx,
        "SELECT count(*) AS n, (array_agg(amount_fen ORDER BY at DESC))[1] AS"
        " last_fen, (array_agg(merchant ORDER BY at DESC))[1] AS merchant"
        " FROM bank_transactions WHERE number = $1 AND card_last4 = $2",
        a.card_last4,
    )
    if not row["n"]:
        raise TransactionError("no transactions")
    return CardTxns(
        txn_count=row["n"],
        last_txn_amount=yuan(abs(row["last_fen"])),
        last_txn_merchant=row["merchant"],
    )


class Report(BaseModel):
    report_id: int


async def report_card_loss(a: CardArgs, ctx: TxContext) -> Report:
    await _row(
        ctx, "SELECT 1 FROM bank_accounts WHERE number = $1 AND card_last4 = $2", a.card_last4
    )
    pool = await _pool(ctx)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE bank_accounts SET status = 'frozen' WHERE number = $1 AND card_last4 = $2",
            ctx.caller_e164,
            a.card_last4,
        )
        rid = await conn.fetchval(
            "INSERT INTO card_reports (number, card_last4, call_id)"
            " VALUES ($1, $2, $3) RETURNING id",
            ctx.caller_e164,
            a.card_last4,
            ctx.call_id,
        )
    return Report(report_id=rid)


class SmsQueued(BaseModel):
    sms_id: int


async def sms_bill_link(_a: NoArgs, ctx: TxContext) -> SmsQueued:
    """Queue an SMS with the bill link (the SMS-centre gateway reads sms_outbox)."""
    pool = await _pool(ctx)
    body = (
        "您的本月账单已生成，查看：https://example.invalid/bill"
        if ctx.language == "zh"
        else "Your bill is ready: https://example.invalid/bill"
    )
    sid = await pool.fetchval(
        "INSERT INTO sms_outbox (number, template, body, language, call_id)"
        " VALUES ($1, 'bill_link', $2, $3, $4) RETURNING id",
        ctx.caller_e164,
        body,
        ctx.language,
        ctx.call_id,
    )
    return SmsQueued(sms_id=sid)


class CallbackArgs(BaseModel):
    queue: str = Field(pattern=r"^[a-z0-9_]+$")


class CallbackBooked(BaseModel):
    callback_id: int


async def request_callback(a: CallbackArgs, ctx: TxContext) -> CallbackBooked:
    """Book a callback; an open one for the same number is reused, never doubled."""
    pool = await _pool(ctx)
    cid = await pool.fetchval(
        "WITH new AS (INSERT INTO callbacks (number, queue, priority, call_id)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (number) WHERE state IN ('pending', 'dialing')"
        " DO NOTHING RETURNING id)"
        " SELECT id FROM new UNION ALL SELECT id FROM callbacks WHERE number = $1"
        " AND state IN ('pending', 'dialing') LIMIT 1",
        ctx.caller_e164,
        a.queue,
        ctx.priority,
        ctx.call_id,
    )
    return CallbackBooked(callback_id=cid)


def business_transactions() -> TransactionRegistry:
    """Every business transaction flows may call: the whole table in one place."""
    return TransactionRegistry(
        [
            TransactionSpec("balance", NoArgs, Balance, balance),
            TransactionSpec("latest_bill", NoArgs, Bill, latest_bill),
            TransactionSpec("current_plan", NoArgs, Plan, current_plan),
            TransactionSpec("data_usage", NoArgs, Usage, data_usage),
            TransactionSpec("recent_payments", NoArgs, Payments, recent_payments),
            TransactionSpec("bank_balance", CardArgs, CardBalance, bank_balance),
            TransactionSpec("bank_recent", CardArgs, CardTxns, bank_recent),
            TransactionSpec("report_card_loss", CardArgs, Report, report_card_loss),
            TransactionSpec("sms_bill_link", NoArgs, SmsQueued, sms_bill_link),
            TransactionSpec("request_callback", CallbackArgs, CallbackBooked, request_callback),
        ]
    )

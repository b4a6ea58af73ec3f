"""Who is calling, within a deadline: a slow or failing CRM never holds a call."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from agi_app.core.customer import Customer
from agi_app.service.identify import identify

GOLD = Customer("+8613800138000", "Zhang San", "gold", bill_day=15)


class Store:
    """CustomerStore that answers from a dict, or hangs, or fails; records lookups."""

    def __init__(
        self, customers: dict[str, Customer] | None = None, error: Exception | None = None
    ) -> None:
        self.customers = customers or {}
        self.error = error
        self.hang = False  # never answers (a CRM that stopped responding)
        self.lookups: list[str] = []
        self.waiting = asyncio.Event()

    async def lookup(self, number_e164: str) -> Customer | None:
        self.lookups.append(number_e164)
        if self.hang:
            self.waiting.set()
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error
        return self.customers.get(number_e164)


@pytest.mark.parametrize("raw", ["13800138000", "+86 138-0013-8000", "sip:+8613800138000@x"])
async def test_a_known_number_is_ok(raw: str) -> None:
    store = Store({GOLD.number: GOLD})
    who = await identify(store, raw, deadline_s=1)
    assert (who.customer, who.e164, who.status) == (GOLD, GOLD.number, "ok")
    assert store.lookups == [GOLD.number]  # looked up by E.164, once


async def test_a_number_not_in_the_crm_is_unknown_with_its_e164() -> None:
    store = Store({GOLD.number: GOLD})
    who = await identify(store, "13900000001", deadline_s=1)
    assert (who.customer, who.e164, who.status) == (None, "+8613900000001", "unknown")
    assert store.lookups == ["+8613900000001"]


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "anonymous",
        "Restricted",
        "0",
        "10086",  # a short code, not a customer
        "abc",
        "1380013800x",
        "'; DROP TABLE customers; --",
        "1" * 200,
        "\x00\x01",
    ],
)
async def test_junk_caller_ids_are_unknown_without_a_lookup(raw: str) -> None:
    store = Store({GOLD.number: GOLD})
    who = await identify(store, raw, deadline_s=1)
    assert (who.customer, who.e164, who.status) == (None, None, "unknown")
    assert store.lookups == []


async def test_a_store_slower_than_the_deadline_is_lookup_failed_within_it() -> None:
    store = Store({GOLD.number: GOLD})
    store.hang = True
    deadline = 0.1
    started = time.monotonic()
    who = await identify(store, GOLD.number, deadline_s=deadline)
    elapsed = time.monotonic() - started
    assert (who.customer, who.e164, who.status) == (None, GOLD.number, "lookup_failed")
    assert store.waiting.is_set()  # it did ask, and gave up
    assert deadline * 0.9 <= elapsed < deadline + 0.5


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError("connect call failed"),
        OSError("network unreachable"),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        TimeoutError(),  # the store's own timeout
        ValueError("bad row"),
        RuntimeError(),  # no message: still logged by its type
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_store_that_raises_is_lookup_failed(error: Exception) -> None:
    store = Store(error=error)
    who = await identify(store, "13800138000", deadline_s=1)
    assert (who.customer, who.e164, who.status) == (None, "+8613800138000", "lookup_failed")


async def test_cancelling_the_call_task_is_not_swallowed() -> None:
    """A hung-up call's task is cancelled mid-lookup: that must not become lookup_failed."""
    store = Store()
    store.hang = True
    task = asyncio.create_task(identify(store, "13800138000", deadline_s=30))
    async with asyncio.timeout(5):
        await store.waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

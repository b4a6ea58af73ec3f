"""Who is calling: the caller ID normalised (untrusted input) and looked up
within a deadline, so a slow or absent CRM never holds a call."""

from __future__ import annotations

import asyncio
import logging

from agi_app.core.customer import CustomerStore
from agi_app.core.decisions import Identity
from agi_app.core.numbers import normalise

log = logging.getLogger(__name__)


async def identify(store: CustomerStore, raw_caller: str, deadline_s: float) -> Identity:
    """Who is calling; never raises, never takes longer than ``deadline_s``."""
    e164 = normalise(raw_caller)
    if e164 is None:
        return Identity(None, None, "unknown")
    try:
        async with asyncio.timeout(deadline_s):
            customer = await store.lookup(e164)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # any failure of the CRM: serve the caller as unknown
        log.warning("customer lookup failed for %s: %s", e164, exc or type(exc).__name__)
        return Identity(None, e164, "lookup_failed")
    return Identity(customer, e164, "ok" if customer else "unknown")

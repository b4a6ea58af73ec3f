"""Who is calling: the caller ID normalised (untrusted input) and looked up
within a deadline, so a slow or absent CRM never holds a call. With a risk
check, the caller's recent journeys are read at the same time and scored
(complaint risk) within the same deadline: no score rather than a late one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from agi_app.core.clock import wall_now
from agi_app.core.customer import Customer, CustomerStore
from agi_app.core.decisions import Identity
from agi_app.core.metrics import METRICS
from agi_app.core.numbers import normalise
from agi_app.core.risk import (
    CallerHistory,
    CustomerWithHistory,
    Risk,
    RiskConfig,
    RiskHistory,
    score,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RiskCheck:
    source: RiskHistory
    config: RiskConfig
    now: Callable[[], datetime] = wall_now  # journeys are stamped with real time
    routing: bool = True  # False: score and record, but never mark a caller at risk
    # Both reads in one round trip (the customer then waits for the history as
    # well, within the same deadline); None: two reads at once, and a late
    # history costs the score but never the customer.
    joint: CustomerWithHistory | None = None


async def identify(
    store: CustomerStore, raw_caller: str, deadline_s: float, risk: RiskCheck | None = None
) -> Identity:
    """Who is calling; never raises, never takes longer than ``deadline_s``."""
    e164 = normalise(raw_caller)
    if e164 is None:
        return Identity(None, None, "unknown")
    if risk is not None and risk.joint is not None:
        return await _joint(risk.joint, e164, deadline_s, risk)
    loop = asyncio.get_running_loop()
    started = loop.time()
    history = asyncio.ensure_future(risk.source.history(e164, risk.now())) if risk else None
    try:
        async with asyncio.timeout(deadline_s):
            customer = await store.lookup(e164)
    except asyncio.CancelledError:
        _drop(history)
        raise
    except Exception as exc:  # any failure of the CRM: serve the caller as unknown
        _drop(history)
        log.warning("customer lookup failed for %s: %s", e164, exc or type(exc).__name__)
        return Identity(None, e164, "lookup_failed")
    remaining = deadline_s - (loop.time() - started)
    assessed = await _assess(history, customer, risk, remaining) if risk and history else None
    return Identity(customer, e164, "ok" if customer else "unknown", assessed)


async def _assess(
    history: asyncio.Future[CallerHistory],
    customer: Customer | None,
    risk: RiskCheck,
    remaining_s: float,
) -> Risk | None:
    try:
        async with asyncio.timeout(max(0.0, remaining_s)):
            signals = await history
    except TimeoutError:
        METRICS.count("risk_late")
        return None
    except Exception as exc:  # no score rather than a failed call
        METRICS.count("risk_failed")
        log.warning("complaint-risk history failed: %s", exc or type(exc).__name__)
        return None
    return _score(signals, customer, risk)


async def _joint(
    source: CustomerWithHistory, e164: str, deadline_s: float, risk: RiskCheck
) -> Identity:
    try:
        async with asyncio.timeout(deadline_s):
            customer, signals = await source.lookup_with_history(e164, risk.now())
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # any failure of the CRM: serve the caller as unknown
        log.warning("customer lookup failed for %s: %s", e164, exc or type(exc).__name__)
        return Identity(None, e164, "lookup_failed")
    assessed = _score(signals, customer, risk)
    return Identity(customer, e164, "ok" if customer else "unknown", assessed)


def _score(signals: CallerHistory, customer: Customer | None, risk: RiskCheck) -> Risk:
    assessed = score(signals, customer.tags if customer else frozenset(), risk.config)
    return assessed if risk.routing else replace(assessed, at_risk=False)


def _drop(task: asyncio.Future[CallerHistory] | None) -> None:
    """Cancel the history read; a failure it already had is not worth a warning."""
    if task is not None:
        task.cancel()
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

"""Where a caller goes, by grade: a pure function of customer, time and policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agi_app.core.customer import Customer
from agi_app.core.routing.config import QueuesFile, ServicePolicy


@dataclass(frozen=True)
class Route:
    queue: str
    priority: int
    grade: str
    skip_first_menu: bool
    offer_dedicated_agent: bool
    exempt_from_shedding: bool
    language: str | None
    reason: str


def route(
    customer: Customer | None,
    now: datetime,
    policy: ServicePolicy,
    queues: QueuesFile,
    requested_queue: str | None = None,
    at_risk: bool = False,
) -> Route:
    """The queue and QUEUE_PRIO for this caller, and how the entry differs."""
    grade = customer.grade if customer and customer.grade in policy.policy else policy.unknown_grade
    gp = policy.policy[grade]
    queue, reason = requested_queue or gp.queue, f"grade {grade}"
    if requested_queue is None or requested_queue in policy.override_queues:
        queue = gp.queue
    priority = gp.queue_priority
    if customer is not None and customer.status == "suspended":
        priority, reason = min(priority, policy.suspended_priority), "suspended account"
    sticky = _sticky_queue(customer, now, policy, queues, queue)
    if sticky is not None:
        queue, reason = sticky, f"sticky agent {customer.last_agent if customer else ''}"
        priority += policy.sticky_agent.priority_boost
    exempt = gp.exempt_from_shedding
    if at_risk:
        risk = policy.complaint_risk
        priority += risk.priority_boost
        queue = risk.queue or queue
        exempt = exempt or risk.exempt_from_shedding
        reason += ", complaint risk"
    return Route(
        queue,
        priority,
        grade,
        gp.skip_first_menu,
        gp.offer_dedicated_agent,
        exempt,
        gp.language,
        reason,
    )


def _sticky_queue(
    customer: Customer | None,
    now: datetime,
    policy: ServicePolicy,
    queues: QueuesFile,
    preferred: str,
) -> str | None:
    """The queue where the caller's last agent works: the caller's own one if possible."""
    if customer is None or not customer.last_agent or customer.last_contact_at is None:
        return None
    if now - customer.last_contact_at > timedelta(hours=policy.sticky_agent.within_hours):
        return None
    with_agent = [
        name
        for name, q in queues.queues.items()
        if any(m.endpoint == customer.last_agent for m in q.members)
    ]
    if preferred in with_agent:
        return preferred
    return with_agent[0] if with_agent else None

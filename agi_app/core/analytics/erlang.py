"""Erlang C staffing and the seed's resource formula (pure functions).

Erlang C models one queue as M/M/N: Poisson arrivals, exponential handling
times, N agents, callers wait (nobody abandons). With traffic A = arrival rate
x handling time (in Erlangs):

  P(wait)        C(N, A) = N B / (N - A (1 - B)),  B = Erlang B(N, A)
  service level  SL(t)   = 1 - C e^{-(N - A) t / AHT}
  speed (ASA)            = C AHT / (N - A)
  occupancy              = A / N

Erlang B comes from its recursion B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1)),
which stays exact where A^N / N! would overflow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

MAX_AGENTS = 100_000


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability of ``agents`` servers offered ``traffic`` Erlangs."""
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits (1.0 when the agents cannot keep up)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1 - b))


def service_level(agents: int, traffic: float, aht_s: float, target_s: float) -> float:
    """Share of calls answered within ``target_s`` seconds."""
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return 1 - erlang_c(agents, traffic) * math.exp(-(agents - traffic) * target_s / aht_s)


def average_speed_of_answer(agents: int, traffic: float, aht_s: float) -> float:
    """Mean wait in seconds over all calls (infinite when overloaded)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return erlang_c(agents, traffic) * aht_s / (agents - traffic)


@dataclass(frozen=True)
class Staffing:
    """Agents needed for one interval and what they achieve."""

    calls: float
    aht_s: float
    traffic: float
    agents: int
    service_level: float
    wait_probability: float
    asa_s: float
    occupancy: float

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def agents_needed(
    calls: float,
    interval_s: float,
    aht_s: float,
    target_sl: float = 0.8,
    target_s: float = 20,
    max_occupancy: float = 1.0,
) -> Staffing:
    """The fewest agents whose service level reaches ``target_sl`` within
    ``target_s`` and whose occupancy stays at or under ``max_occupancy``."""
    if not 0 < target_sl < 1 or not 0 < max_occupancy <= 1:
        raise ValueError("target service level must be in (0, 1), max occupancy in (0, 1]")
    traffic = calls * aht_s / interval_s if interval_s > 0 else 0.0
    if traffic <= 0:
        return Staffing(calls, aht_s, 0.0, 0, 1.0, 0.0, 0.0, 0.0)
    n = max(1, math.floor(traffic) + 1)
    while n < MAX_AGENTS and (
        service_level(n, traffic, aht_s, target_s) < target_sl or traffic / n > max_occupancy
    ):
        n += 1
    return Staffing(
        calls,
        aht_s,
        traffic,
        n,
        service_level(n, traffic, aht_s, target_s),
        erlang_c(n, traffic),
        average_speed_of_answer(n, traffic, aht_s),
        traffic / n,
    )


@dataclass(frozen=True)
class ResourceInputs:
    """The seed's resource formula, both sides:

    agents x online utilisation x attendance x shift hours x loss factor
        = volume x answer rate x service share x handling time (hours)

    volume: calls a day; answer rate: share of agent requests answered;
    service share: share of calls that ask for an agent; loss factor: the
    share of a shift left after breaks, training and meetings."""

    volume_per_day: float
    answer_rate: float
    service_share: float
    aht_s: float
    utilisation: float = 0.85
    attendance: float = 0.95
    shift_hours: float = 8.0
    loss_factor: float = 0.9

    def workload_hours(self) -> float:
        """Right-hand side: agent hours of handling a day."""
        return self.volume_per_day * self.answer_rate * self.service_share * self.aht_s / 3600

    def hours_per_agent(self) -> float:
        """Left-hand side per agent: productive hours one rostered agent gives a day."""
        return self.utilisation * self.attendance * self.shift_hours * self.loss_factor

    def agents(self) -> float:
        per = self.hours_per_agent()
        return self.workload_hours() / per if per > 0 else math.inf

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: round(v, 4) for k, v in asdict(self).items()}
        out["workload_hours"] = round(self.workload_hours(), 2)
        out["hours_per_agent"] = round(self.hours_per_agent(), 4)
        out["agents"] = round(self.agents(), 2)
        out["agents_rostered"] = math.ceil(self.agents() - 1e-9)
        return out

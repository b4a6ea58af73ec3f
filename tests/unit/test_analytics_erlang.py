"""Erlang C and the resource formula against published values.

Published figures used:
  * pyworkforce README (ErlangC example): 100 calls in 30 min, AHT 3 min,
    80 % within 20 s -> 14 agents, service level 0.8883500191794669,
    occupancy 0.7142857142857143, waiting probability 0.1741319335950498.
  * Call Centre Helper, "Erlang C formula - made simple" (the same line,
    A = 10 Erlangs): 11 agents -> probability of waiting 68.21 %, ASA 122.8 s.
  * Westbay Engineers, "The Erlang-C formula": 360 calls per half hour, 240 s,
    55 agents, 15 s target -> A = 48, waiting probability 0.2387 (24 %),
    ASA 8.2 s, service level 84.6 %.
  * jonesthenet (Erlang uplift): 250 calls an hour, AHT 330 s, 80 % within
    30 s -> 28 advisors.
"""

from __future__ import annotations

import math

import pytest

from agi_app.core.analytics.erlang import (
    ResourceInputs,
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
)


@pytest.mark.parametrize(
    ("agents", "traffic", "aht", "target", "wait_p", "sl", "asa"),
    [
        (14, 10.0, 180, 20, 0.1741319335950498, 0.8883500191794669, None),
        (11, 10.0, 180, 20, 0.6821, None, 122.8),
        (55, 48.0, 240, 15, 0.2387, 0.846, 8.2),
    ],
)
def test_published_erlang_c_values(
    agents: int,
    traffic: float,
    aht: float,
    target: float,
    wait_p: float,
    sl: float | None,
    asa: float | None,
) -> None:
    assert erlang_c(agents, traffic) == pytest.approx(wait_p, abs=5e-5)
    if sl is not None:
        assert service_level(agents, traffic, aht, target) == pytest.approx(sl, abs=5e-4)
    if asa is not None:
        assert average_speed_of_answer(agents, traffic, aht) == pytest.approx(asa, abs=0.05)


@pytest.mark.parametrize(
    ("calls", "interval_s", "aht", "sl", "within", "agents"),
    [
        (100, 1800, 180, 0.8, 20, 14),  # pyworkforce raw_positions
        (250, 3600, 330, 0.8, 30, 28),  # jonesthenet
        (0, 1800, 180, 0.8, 20, 0),  # nobody calls: nobody needed
    ],
)
def test_agents_needed_matches_published(
    calls: float, interval_s: float, aht: float, sl: float, within: float, agents: int
) -> None:
    got = agents_needed(calls, interval_s, aht, sl, within)
    assert got.agents == agents
    if agents:
        assert got.service_level >= sl
        # One agent fewer misses the target: the answer is the smallest.
        assert service_level(agents - 1, got.traffic, aht, within) < sl


def test_pyworkforce_occupancy_and_cap() -> None:
    got = agents_needed(100, 1800, 180, 0.8, 20)
    assert got.occupancy == pytest.approx(0.7142857142857143)
    # Capping occupancy at 0.7 needs one more agent than the service level alone.
    assert agents_needed(100, 1800, 180, 0.8, 20, max_occupancy=0.7).agents == 15


@pytest.mark.parametrize(("agents", "traffic", "blocking"), [(1, 1.0, 0.5), (2, 1.0, 0.2)])
def test_erlang_b_small_cases(agents: int, traffic: float, blocking: float) -> None:
    assert erlang_b(agents, traffic) == pytest.approx(blocking)


def test_overload_waits_for_ever() -> None:
    assert erlang_c(10, 10.0) == 1.0
    assert service_level(10, 12.0, 180, 20) == 0.0
    assert math.isinf(average_speed_of_answer(9, 10.0, 180))


def test_large_traffic_does_not_overflow() -> None:
    got = agents_needed(30_000, 1800, 240, 0.8, 20)  # A = 4000 Erlangs
    assert 4000 < got.agents < 4100 and got.service_level >= 0.8


def test_resource_formula_both_sides() -> None:
    r = ResourceInputs(
        volume_per_day=100_000,
        answer_rate=0.9,
        service_share=0.3,
        aht_s=240,
        utilisation=0.8,
        attendance=0.9,
        shift_hours=8,
        loss_factor=0.9,
    )
    assert r.workload_hours() == pytest.approx(100_000 * 0.9 * 0.3 * 240 / 3600)  # 1800 h
    assert r.hours_per_agent() == pytest.approx(0.8 * 0.9 * 8 * 0.9)  # 5.184 h
    assert r.agents() * r.hours_per_agent() == pytest.approx(r.workload_hours())
    assert r.as_dict()["agents_rostered"] == math.ceil(1800 / 5.184)

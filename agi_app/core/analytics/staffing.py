"""Staffing per queue and half hour: arrivals, handling time, queue wait and the
Erlang C agents for the targets; the resource formula (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agi_app.core.analytics.erlang import ResourceInputs, agents_needed
from agi_app.core.analytics.figures import Report, _r, _share

SLOT_S = 1800  # staffing intervals: half hours
# The handling time assumed for a queue none of whose calls an agent answered
# (nothing to measure: no agents yet, or none logged in). Three minutes, the
# usual planning figure for a telecom service line; ``--default-aht-s``.
DEFAULT_AHT_S = 180.0


@dataclass(frozen=True)
class Targets:
    service_level: float = 0.8
    answer_within_s: float = 20
    max_occupancy: float = 1.0
    aht_s: float | None = None  # overrides the measured handling time
    default_aht_s: float = DEFAULT_AHT_S  # where no answered call measured it


def handling_time(targets: Targets, answered: int, handled_s: float) -> tuple[float, str]:
    """The handling seconds to staff with and where they come from: ``given``
    (--aht), ``measured`` over the ``answered`` calls, or ``assumed`` (the
    default) when no call was answered: never 0, which would staff no agent."""
    if targets.aht_s:
        return targets.aht_s, "given"
    if answered:
        return handled_s / answered, "measured"
    return targets.default_aht_s, "assumed"


def staffing(
    rows: list[dict[str, Any]],
    volume: dict[str, int],
    days: int,
    targets: Targets,
    resource: dict[str, float],
) -> Report:
    """Per queue and half hour of the day (mean over ``days``): arrivals, the
    measured handling time (talk time; for journeys without the answer moment,
    joining the queue to the end; for a queue with no answered call, the assumed
    ``targets.default_aht_s``, said in ``aht_from`` and the summary) and queue
    wait, and the Erlang C agents for the targets; and the resource formula over
    the whole period (inputs measured, factors given)."""
    slots: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:  # slices and flows of one queue and half hour add up
        key = (r["queue"], int(r["slot"]))
        m = slots.setdefault(key, {"queue": r["queue"], "slot": key[1], "arrivals": 0,
                                   "answered": 0, "timed": 0, "handled_s": 0.0,
                                   "wait_s": 0.0})  # fmt: skip
        m["arrivals"] += r["arrivals"]
        m["answered"] += r["answered"]
        m["timed"] += r["timed"]
        m["handled_s"] += float(r["talk_s"]) + float(r["estimated_s"])
        m["wait_s"] += float(r["wait_s"])
    rows = [slots[k] for k in sorted(slots)]
    by_queue: dict[str, tuple[int, float]] = {}
    for r in rows:
        answered, handled = by_queue.get(r["queue"], (0, 0.0))
        by_queue[r["queue"]] = (answered + r["answered"], handled + float(r["handled_s"]))
    out = []
    for r in rows:
        aht, aht_from = handling_time(targets, *by_queue[r["queue"]])
        per_day = r["arrivals"] / days
        need = agents_needed(
            per_day,
            SLOT_S,
            aht,
            targets.service_level,
            targets.answer_within_s,
            targets.max_occupancy,
        )
        slot = int(r["slot"])
        out.append(
            {
                "queue": r["queue"],
                "slot": f"{slot // 2:02d}:{slot % 2 * 30:02d}",
                "arrivals": round(per_day, 2),
                "slot_aht_s": _r(float(r["handled_s"]) / r["answered"]) if r["answered"] else None,
                "aht_s": _r(aht),
                "aht_from": aht_from,
                "waited_s": _r(r["wait_s"] / r["timed"]) if r["timed"] else None,
                "erlangs": round(need.traffic, 2),
                "agents": need.agents,
                "service_level": round(need.service_level, 4),
                "occupancy": round(need.occupancy, 4),
                "asa_s": _r(need.asa_s),
            }
        )
    assumed = sorted(q for q, (answered, _) in by_queue.items() if not answered)
    answered_all = sum(a for a, _ in by_queue.values())
    handled_all = sum(h for _, h in by_queue.values())
    inputs = ResourceInputs(
        volume_per_day=volume["calls"] / days,
        answer_rate=_share(volume["answered"], volume["asked_agent"]),
        service_share=_share(volume["asked_agent"], volume["calls"]),
        aht_s=handling_time(targets, answered_all, handled_all)[0],
        **resource,
    )
    summary = {
        "days": days,
        "targets": {
            "service_level": targets.service_level,
            "answer_within_s": targets.answer_within_s,
            "max_occupancy": targets.max_occupancy,
        },
        "peak_agents": max((r["agents"] for r in out), default=0),
        "aht": _aht_note(targets, answered_all, sum(r["timed"] for r in rows), assumed),
        "resource_formula": inputs.as_dict(),
    }
    return Report("staffing", out, summary)


def _aht_note(targets: Targets, answered: int, timed: int, assumed: list[str]) -> str:
    """What the handling time is made of; which queues' is assumed, not measured."""
    if targets.aht_s:
        return "given (--aht)"
    note = f"talk time, agent's answer to the end, of {timed} answered calls"
    if answered > timed:
        note += (
            f"; {answered - timed} older journeys without the moment the agent answered: "
            "joining the queue to the end (queue wait included)"
        )
    if assumed:
        note += (
            f"; ASSUMED {targets.default_aht_s:g} s (--default-aht-s), not measured, for "
            f"{', '.join(assumed)}: no call answered there"
        )
    return note

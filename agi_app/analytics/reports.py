"""From aggregated rows to the figures each command prints (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agi_app.analytics.erlang import ResourceInputs, agents_needed

SLOT_S = 1800  # staffing intervals: half hours


@dataclass
class Report:
    """A table (rows of equal keys) and the figures about the whole of it."""

    title: str
    rows: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)


def _r(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(float(x), digits)


def _share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def funnel(rows: list[dict[str, Any]], calls: dict[str, int]) -> Report:
    """Per node: visits, callers, hang-ups, agent requests, errors, dwell; the
    share of callers that reached each self-service result (successful transaction)."""
    out = []
    for r in rows:
        total = calls.get(r["flow"], 0)
        out.append(
            {
                "flow": r["flow"],
                "node": r["node"],
                "type": r["node_type"],
                "visits": r["visits"],
                "callers": r["callers"],
                "reach": _share(r["callers"], total),
                "hung_up": r["hung_up"],
                "asked_agent": r["asked_agent"],
                "invalid": r["invalid"],
                "timeouts": r["timeouts"],
                "failed": r["failed"],
                "median_s": _r(r["median_s"]),
                "p90_s": _r(r["p90_s"]),
                "served_share": _share(r["served_callers"], total)
                if r["node_type"] == "transaction"
                else None,
            }
        )
    return Report("funnel", out, {"calls": calls})


def paths(rows: list[dict[str, Any]], top: int) -> Report:
    """The ``top`` commonest paths per flow with their share; per flow the
    median seconds from answer to first service."""
    per_flow = {r["flow"]: r for r in rows if r["path"] is None}
    out: list[dict[str, Any]] = []
    shown: dict[str, int] = {}
    for r in rows:
        if r["path"] is None or shown.get(r["flow"], 0) >= top:
            continue
        shown[r["flow"]] = shown.get(r["flow"], 0) + 1
        total = per_flow[r["flow"]]["calls"]
        out.append(
            {
                "flow": r["flow"],
                "calls": r["calls"],
                "share": _share(r["calls"], total),
                "served": r["served"],
                "median_to_service_s": _r(r["median_to_service_s"]),
                "path": r["path"],
            }
        )
    summary = {
        flow: {
            "calls": r["calls"],
            "served": r["served"],
            "median_to_service_s": _r(r["median_to_service_s"]),
        }
        for flow, r in per_flow.items()
    }
    return Report("paths", out, summary)


def repeats(rows: list[dict[str, Any]]) -> Report:
    """Repeat-call rates within 24 h and 7 days, per flow and per last node of
    the first call (its last transaction or transfer, else its last node)."""
    out = [
        {
            "flow": r["flow"],
            "last_node": r["last_node"] if r["last_node"] is not None else "(all)",
            "calls": r["calls"],
            "again_24h": r["again_24h"],
            "rate_24h": _share(r["again_24h"], r["calls"]),
            "again_7d": r["again_7d"],
            "rate_7d": _share(r["again_7d"], r["calls"]),
        }
        for r in rows
    ]
    return Report("repeats", out)


@dataclass(frozen=True)
class Targets:
    service_level: float = 0.8
    answer_within_s: float = 20
    max_occupancy: float = 1.0
    aht_s: float | None = None  # overrides the measured handling time


def staffing(
    rows: list[dict[str, Any]],
    volume: dict[str, int],
    days: int,
    targets: Targets,
    resource: dict[str, float],
) -> Report:
    """Per queue and half hour of the day (mean over ``days``): arrivals, the
    measured handling time and the Erlang C agents for the targets; and the
    resource formula over the whole period (inputs measured, factors given)."""
    by_queue: dict[str, tuple[int, float]] = {}
    for r in rows:
        answered, handled = by_queue.get(r["queue"], (0, 0.0))
        by_queue[r["queue"]] = (answered + r["answered"], handled + float(r["handled_s"]))
    out = []
    for r in rows:
        answered, handled = by_queue[r["queue"]]
        aht = targets.aht_s or (handled / answered if answered else 0.0)
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
                "erlangs": round(need.traffic, 2),
                "agents": need.agents,
                "service_level": round(need.service_level, 4),
                "occupancy": round(need.occupancy, 4),
                "asa_s": _r(need.asa_s),
            }
        )
    answered_all = sum(a for a, _ in by_queue.values())
    handled_all = sum(h for _, h in by_queue.values())
    inputs = ResourceInputs(
        volume_per_day=volume["calls"] / days,
        answer_rate=_share(volume["answered"], volume["asked_agent"]),
        service_share=_share(volume["asked_agent"], volume["calls"]),
        aht_s=targets.aht_s or (handled_all / answered_all if answered_all else 0.0),
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
        "resource_formula": inputs.as_dict(),
    }
    return Report("staffing", out, summary)

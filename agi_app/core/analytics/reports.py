"""From aggregated rows to the figures each command prints (pure functions)."""

from __future__ import annotations

import json
from typing import Any

from agi_app.core.analytics.figures import Report, _r, _share, percentile
from agi_app.core.analytics.staffing import SLOT_S, Targets, staffing

__all__ = ["SLOT_S", "Report", "Targets", "funnel", "paths", "percentile", "repeats", "staffing"]


SUMMED = ("visits", "hung_up", "asked_agent", "invalid", "timeouts", "failed", "served")


LEFT_STAMPED = ("menu", "dynamic_menu", "input", "transaction")


def hung_up_in(nodes: dict[str, Any], node: str, hint: dict[str, Any]) -> str:
    """Where a caller whose journey ends at ``node`` (with the step's ``hint``:
    digits, case, ok, status, result) hung up: the node the flow went on to
    when that one records a step only when left (a menu, input or transaction),
    else ``node`` itself. ``nodes`` are the flow's node models (none: unknown)."""
    here: Any = nodes.get(node)
    kind = getattr(here, "type", None)
    nxt: str | None = None
    if kind in ("play", "set"):
        nxt = here.next
    elif kind == "branch":
        case = hint.get("case")
        nxt = here.cases[case].goto if isinstance(case, int) else here.default
    elif kind == "transaction":
        nxt = here.on_success if hint.get("ok") else here.on_failure
    elif kind == "menu":
        failed = hint.get("result") == "failed"
        nxt = here.on_failure if failed else here.choices.get(hint.get("digits", ""))
    elif kind == "transfer" and hint.get("status"):
        nxt = here.on_status.get(hint["status"]) or here.on_status.get("default")
    target: Any = nodes.get(nxt) if nxt else None
    if nxt and target is not None and target.type in LEFT_STAMPED:
        return nxt
    return node


def funnel(
    rows: list[dict[str, Any]], calls: dict[str, int], flows: dict[str, Any] | None = None
) -> Report:
    """Per node: visits, hang-ups, agent requests, errors, median and p90 dwell;
    for a transaction, the share of calls it served (a self-service result).
    ``flows`` (flow id: Flow) places hang-ups in the menus they happened in."""
    nodes: dict[tuple[str, str], dict[str, Any]] = {}
    moved: list[tuple[str, str, str, int]] = []
    waits, untimed = _waits(rows, ("flow", "node"))
    for r in rows:
        key = (r["flow"], r["node"])
        if r["last_hint"] is not None and r["hung_up"] and flows and r["flow"] in flows:
            hint = json.loads(r["last_hint"])
            where = hung_up_in(flows[r["flow"]].nodes, r["node"], hint)
            if where != r["node"]:
                moved.append((r["flow"], r["node"], where, int(r["hung_up"])))
        n = nodes.get(key)
        if n is None:
            n = nodes[key] = {"type": None, "seq": r["first_seq"], "dwell": [],
                              **dict.fromkeys(SUMMED, 0)}  # fmt: skip
        elif r["first_seq"] < n["seq"]:
            n["seq"] = r["first_seq"]
        n["type"] = n["type"] or r["node_type"]
        for k in SUMMED:
            if r[k]:
                n[k] += int(r[k])
        if r["dwell_s"] is not None:
            n["dwell"].append((float(r["dwell_s"]), int(r["samples"])))
    for flow_id, node, where, count in moved:
        nodes[(flow_id, node)]["hung_up"] -= count
        target = nodes.setdefault(
            (flow_id, where),
            {
                "type": flows[flow_id].nodes[where].type if flows else None,
                "dwell": [],
                "seq": nodes[(flow_id, node)]["seq"],
                **dict.fromkeys(SUMMED, 0),
            },
        )
        target["hung_up"] += count
    out = []
    for (flow, node), n in sorted(nodes.items(), key=lambda kv: (kv[0][0], kv[1]["seq"], kv[0][1])):
        total = calls.get(flow, 0)
        out.append(
            {
                "flow": flow,
                "node": node,
                "type": n["type"],
                "visits": n["visits"],
                "per_call": _share(n["visits"], total),
                "hung_up": n["hung_up"],
                "asked_agent": n["asked_agent"],
                "invalid": n["invalid"],
                "timeouts": n["timeouts"],
                "failed": n["failed"],
                "median_s": _r(percentile(n["dwell"], 0.5)),
                "p90_s": _r(percentile(n["dwell"], 0.9)),
                "served_share": _share(n["served"], total) if n["type"] == "transaction" else None,
                "wait_median_s": _r(percentile(waits.get((flow, node), []), 0.5)),
                "wait_p90_s": _r(percentile(waits.get((flow, node), []), 0.9)),
            }
        )
    summary: dict[str, Any] = {"calls": calls}
    if untimed:
        summary["queue_wait"] = _untimed_note(untimed, waits)
    return Report("funnel", out, summary)


def _waits(
    rows: list[dict[str, Any]], keys: tuple[str, ...]
) -> tuple[dict[tuple[str, ...], list[tuple[float, int]]], int]:
    """The queue waits of answered agent calls per ``keys`` (value, how many), from
    the rows marked ``wait_row``; and how many answered calls had no wait recorded."""
    waits: dict[tuple[str, ...], list[tuple[float, int]]] = {}
    untimed = 0
    for r in rows:
        count = int(r.get("answered") or 0)
        if r.get("wait_row") is False or not count:  # paths: rows of the other grouping
            continue
        if r["wait_s"] is None:
            untimed += count
        else:
            waits.setdefault(tuple(r[k] for k in keys), []).append((float(r["wait_s"]), count))
    return waits, untimed


def _untimed_note(untimed: int, waits: dict[tuple[str, ...], list[tuple[float, int]]]) -> str:
    timed = sum(n for dist in waits.values() for _, n in dist)
    return (
        f"queue wait of {timed} answered calls; {untimed} older journeys without the moment "
        "the agent answered are left out of it"
    )


def paths(rows: list[dict[str, Any]], top: int) -> Report:
    """The ``top`` commonest paths per flow with their share; per path and per
    flow the median seconds from answer to first service."""
    by_path: dict[tuple[str, str], list[tuple[float, int]]] = {}
    counts: dict[tuple[str, str], int] = {}
    flows: dict[str, list[tuple[float, int]]] = {}
    totals: dict[str, int] = {}
    waits, untimed = _waits(rows, ("flow", "path"))
    estimated: dict[str, int] = {}
    for r in rows:
        if r.get("wait_row"):
            continue
        key = (r["flow"], r["path"])
        if r.get("estimated"):
            estimated[r["flow"]] = estimated.get(r["flow"], 0) + r["calls"]
        counts[key] = counts.get(key, 0) + r["calls"]
        totals[r["flow"]] = totals.get(r["flow"], 0) + r["calls"]
        if r["to_service_s"] is not None:
            by_path.setdefault(key, []).append((float(r["to_service_s"]), r["calls"]))
            flows.setdefault(r["flow"], []).append((float(r["to_service_s"]), r["calls"]))
    out: list[dict[str, Any]] = []
    shown: dict[str, int] = {}
    for (flow, path), n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1])):
        if shown.get(flow, 0) >= top:
            continue
        shown[flow] = shown.get(flow, 0) + 1
        served = by_path.get((flow, path), [])
        out.append(
            {
                "flow": flow,
                "calls": n,
                "share": _share(n, totals[flow]),
                "served": sum(c for _, c in served),
                "median_to_service_s": _r(percentile(served, 0.5)),
                "median_wait_s": _r(percentile(waits.get((flow, path), []), 0.5)),
                "path": path,
            }
        )
    summary: dict[str, Any] = {
        flow: {
            "calls": total,
            "served": sum(c for _, c in flows.get(flow, [])),
            "median_to_service_s": _r(percentile(flows.get(flow, []), 0.5)),
            "median_wait_s": _r(
                percentile([w for (f, _), d in waits.items() if f == flow for w in d], 0.5)
            ),
        }
        for flow, total in sorted(totals.items())
    }
    if estimated:
        summary["to_service_estimated"] = (
            f"{sum(estimated.values())} agent calls of older journeys without the moment the "
            "agent answered count from joining the queue"
        )
    if untimed:
        summary["queue_wait"] = _untimed_note(untimed, waits)
    return Report("paths", out, summary)


def repeats(rows: list[dict[str, Any]]) -> Report:
    """Repeat-call rates within 24 h and 7 days, per flow and per last node of
    the first call (what the caller got last; see queries)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        for key in ((r["flow"], "(all)"), (r["flow"], r["last_node"])):
            g = groups.setdefault(key, [0, 0, 0])
            g[0] += r["calls"]
            g[1] += r["again_24h"]
            g[2] += r["again_7d"]
    order = sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "(all)", -kv[1][1]))
    out = [
        {
            "flow": flow,
            "last_node": node,
            "calls": calls,
            "again_24h": a24,
            "rate_24h": _share(a24, calls),
            "again_7d": a7,
            "rate_7d": _share(a7, calls),
        }
        for (flow, node), (calls, a24, a7) in order
    ]
    return Report("repeats", out)

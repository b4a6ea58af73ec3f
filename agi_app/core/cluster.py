"""Several hotline nodes on one database: who leads, who is alive, what they share.

Pure types and rules, no I/O:

- ``Leadership``: the protocol a leader election implements (PostgreSQL
  advisory locks in ``adapters/postgres/leader.py``). Its ``token`` is the proof
  of leadership a statement can check in the database at the moment it runs
  (the *fence*): a node that has lost the lock cannot act as leader even
  before it learns that it lost it.
- ``NodeStatus``: what a node says about itself every heartbeat; ``NodeRow``
  that plus when it was last seen. ``node_state`` and ``cluster_table`` turn
  the rows into the ``agi-app cluster status`` table; a mapping of what a
  dispatcher (Kamailio) thinks of each node can be handed in and becomes a
  column.
- ``Shared``: one setting every node applies (a flow reload, the QA business
  clock, the QA shedding level) and its generation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

UP_WITHIN_S = 6.0  # three heartbeats (every 2 s) missed: no longer up
DOWN_AFTER_S = 60.0  # silent this long: down, not just late

# What the nodes share (the ``key`` of a shared setting).
FLOWS = "flows"  # body {"version": ...}: every node reloads its flows
CLOCK = "clock"  # body {"offset_s": float | None, "now": iso | None}
SHEDDING = "shedding"  # body {"level": 0-4 | None}
SHARED_KEYS = (FLOWS, CLOCK, SHEDDING)


@dataclass(frozen=True)
class LeaderToken:
    """Proof of leadership: the lock (two keys) and the database session holding it
    (its backend pid and start time, so that a reused pid proves nothing)."""

    lock: tuple[int, int]
    pid: int
    since: datetime


class Leadership(Protocol):
    """One leader at a time among the nodes, for one job (the callback worker)."""

    @property
    def leader(self) -> bool: ...

    def token(self) -> LeaderToken | None:
        """The proof while this node leads; None as soon as it may not."""
        ...


@dataclass(frozen=True)
class NodeStatus:
    """What a node reports about itself."""

    node: str
    instance: str  # this run of the node's process (a node restarted is a new instance)
    pid: int
    flow_version: str
    calls: int  # calls in progress
    ari_connected: bool
    admission_limit: int
    leader: bool  # leads the callback worker
    started_at: datetime
    admin: str = ""  # host:port of its admin endpoint


@dataclass(frozen=True)
class NodeRow:
    status: NodeStatus
    last_seen: datetime
    stopped_at: datetime | None = None


def node_state(row: NodeRow, now: datetime, up_within_s: float = UP_WITHIN_S) -> str:
    """``up`` (heard from within ``up_within_s``), ``stale`` (late), ``down``
    (stopped, or silent for ``DOWN_AFTER_S``)."""
    if row.stopped_at is not None and row.stopped_at >= row.last_seen:
        return "down"
    age = (now - row.last_seen).total_seconds()
    if age <= up_within_s:
        return "up"
    return "stale" if age <= DOWN_AFTER_S else "down"


COLUMNS = ("node", "state", "pid", "calls", "flow_version", "ari", "leader", "seen_s")
NO_HEARTBEAT = "no heartbeat"
# Its app is heard from but its Asterisk's ARI is not connected (Asterisk dead
# or restarting): the node's calls get the dialplan's fallback, not the flows.
NO_ARI = "no ari"


def cluster_table(
    rows: Iterable[NodeRow],
    now: datetime,
    kamailio: Mapping[str, str] | None = None,
    up_within_s: float = UP_WITHIN_S,
) -> list[dict[str, Any]]:
    """One entry per node, by name. With ``kamailio`` (node -> the dispatcher's
    state of it) every entry gets a ``kamailio`` column, and a node only the
    dispatcher knows gets an entry of its own (state ``no heartbeat``)."""
    table: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: r.status.node):
        st, state = row.status, node_state(row, now, up_within_s)
        heard = state == "up"  # what a stale or stopped node last said is old
        if heard and not st.ari_connected:
            state = NO_ARI
        entry: dict[str, Any] = {
            "node": st.node,
            "state": state,
            "pid": st.pid,
            "calls": st.calls,
            "flow_version": st.flow_version,
            "ari": st.ari_connected if heard else None,
            "leader": st.leader and heard,
            "seen_s": round(max(0.0, (now - row.last_seen).total_seconds()), 1),
            "admission_limit": st.admission_limit,
            "started_at": st.started_at.isoformat(),
            "admin": st.admin,
        }
        table.append(entry)
    if kamailio is not None:
        known = {e["node"] for e in table}
        for entry in table:
            entry["kamailio"] = kamailio.get(entry["node"], "-")
        for node in sorted(set(kamailio) - known):
            table.append(
                {**dict.fromkeys(COLUMNS), "node": node, "state": NO_HEARTBEAT}
                | {"kamailio": kamailio[node]}
            )
    return table


def render_table(table: Sequence[Mapping[str, Any]]) -> str:
    """The table as aligned text (``agi-app cluster status``)."""
    columns = [*COLUMNS, *(["kamailio"] if any("kamailio" in e for e in table) else [])]
    cells = [[_cell(e.get(c)) for c in columns] for e in table]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for r in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True)
class Shared:
    """A setting every node applies. ``generation`` grows with every change (of
    any key); ``origin`` is the instance that made it (it applied it already)."""

    key: str
    generation: int
    body: dict[str, Any] = field(default_factory=dict)
    origin: str = ""
    node: str = ""


def shedding_level(body: Mapping[str, Any]) -> int | None:
    """The level a shared shedding body forces (None: the rules decide)."""
    level = body.get("level")
    if level is None:
        return None
    if type(level) is not int or level not in range(5):
        raise ValueError(f"level must be 0-4 or null, not {level!r}")
    return level

"""The parts that make several nodes one hotline where there must be one
(used by agi_app.entry.wiring): callback leadership, the heartbeat, the
settings every node shares and the LISTEN that wakes them. All of it is in
PostgreSQL, whatever sits in front of the nodes.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agi_app.adapters.postgres.cluster import PgNotifications, PgSharedStore
from agi_app.adapters.postgres.leader import PgLeader
from agi_app.adapters.postgres.nodes import PgNodeStore
from agi_app.adapters.postgres.pool import Database
from agi_app.core.clock import BusinessClock
from agi_app.core.cluster import NodeStatus
from agi_app.entry.supervisor import LoopFactory
from agi_app.service.cluster import ClusterSync, Reload
from agi_app.service.heartbeat import Heartbeat
from agi_app.service.shedding import SheddingOverride
from agi_app.settings import Settings


@dataclass(frozen=True)
class NodeFigures:
    """What the heartbeat reads from the running parts."""

    flow_version: Callable[[], str]
    calls: Callable[[], int]
    ari_connected: Callable[[], bool]


@dataclass(frozen=True)
class ClusterParts:
    instance: str
    leader: PgLeader
    heartbeat: Heartbeat
    sync: ClusterSync
    notifications: PgNotifications

    @property
    def background(self) -> tuple[tuple[str, LoopFactory], ...]:
        return (
            ("leader", self.leader.run),
            ("heartbeat", self.heartbeat.run),
            ("cluster-sync", self.sync.run),
            ("cluster-listen", self.notifications.run),
        )

    def stats(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "callback_leader": self.leader.leader,
            "cluster": {
                **self.sync.stats(),
                "listening": self.notifications.listening,
                "notifications": self.notifications.received,
                "heartbeats": self.heartbeat.beats,
                "leader_terms": self.leader.terms,
            },
        }


def build_cluster(
    s: Settings,
    db: Database,
    reload: Reload,
    clock: BusinessClock,
    shedding: SheddingOverride,
    figures: Callable[[], NodeFigures],
) -> ClusterParts:
    """``figures`` is called once the rest is built (the ARI app comes later)."""
    instance = f"{s.node}/{os.getpid()}/{secrets.token_hex(3)}"
    started = datetime.now(UTC)
    leader = PgLeader(s.pg_dsn, "callbacks", node=s.node)
    nodes = PgNodeStore(db.pool)

    def status() -> NodeStatus:
        f = figures()
        return NodeStatus(
            node=s.node,
            instance=instance,
            pid=os.getpid(),
            flow_version=f.flow_version(),
            calls=f.calls(),
            ari_connected=f.ari_connected(),
            admission_limit=s.max_concurrent_calls,
            leader=leader.leader,
            started_at=started,
            admin=f"{s.bind_address}:{s.admin_port}",
        )

    sync = ClusterSync(
        PgSharedStore(db.pool),
        nodes,
        node=s.node,
        instance=instance,
        reload=reload,
        clock=clock,
        shedding=shedding,
        clock_from_start=bool(s.business_clock),
    )
    return ClusterParts(
        instance=instance,
        leader=leader,
        heartbeat=Heartbeat(nodes, status),
        sync=sync,
        notifications=PgNotifications(s.pg_dsn, sync.wake, node=s.node),
    )

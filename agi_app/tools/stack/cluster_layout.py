"""Where each part of a one-machine cluster listens, and what each node is told.

A cluster is Kamailio on the callers' address (``Settings.sip_port``, 5060),
N IVR nodes (an Asterisk and its own app process each) and one queue node
(an Asterisk with app_queue and the agents' endpoints), all sharing the one
PostgreSQL. On one machine every node needs ports of its own; this module is
the one place that hands them out, so the stack, the tests and the bench agree.

Ports (``Settings.cluster_port_shift`` moves them all, for a second cluster):

| part       | SIP        | ARI/HTTP   | AMI        | admin      | FastAGI    |
|------------|------------|------------|------------|------------|------------|
| queue      | 5180       | 8180       | 5380       | -          | -          |
| ivr<i>     | 5180 + i   | 8180 + i   | 5380 + i   | 8280 + i   | 4580 + i   |

RTP: the queue node and the IVR nodes split 20000-29999 evenly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from agi_app.settings import Settings

QUEUE_NODE = "queue"
TRUNK_TO_QUEUE = "queuenode"  # the PJSIP endpoint, on every IVR node, of the queue node
MAX_IVR_NODES = 9
RTP_FIRST, RTP_LAST = 20000, 29999
CACHE_ROOT = Path("/var/cache/agi-app")


@dataclass(frozen=True)
class NodeSpec:
    """One Asterisk of the cluster and, for an IVR node, its app process."""

    name: str
    role: str  # "ivr" or "queue"
    sip_port: int
    http_port: int
    ami_port: int
    rtp_start: int
    rtp_end: int
    admin_port: int = 0  # IVR nodes only (the app)
    agi_port: int = 0

    @property
    def is_ivr(self) -> bool:
        return self.role == "ivr"


def layout(s: Settings, ivr_nodes: int) -> list[NodeSpec]:
    """The queue node first, then ``ivr1`` .. ``ivrN``."""
    if not 1 <= ivr_nodes <= MAX_IVR_NODES:
        raise ValueError(f"--nodes must be 1-{MAX_IVR_NODES}, not {ivr_nodes}")
    shift = s.cluster_port_shift
    span = (RTP_LAST - RTP_FIRST + 1) // (ivr_nodes + 1)
    span -= span % 2  # RTP ports come in even/odd pairs
    nodes = []
    for i in range(ivr_nodes + 1):
        rtp = RTP_FIRST + i * span
        common = {
            "sip_port": 5180 + i + shift,
            "http_port": 8180 + i + shift,
            "ami_port": 5380 + i + shift,
            "rtp_start": rtp,
            "rtp_end": rtp + span - 1,
        }
        if i == 0:
            nodes.append(NodeSpec(name=QUEUE_NODE, role="queue", **common))
        else:
            nodes.append(
                NodeSpec(
                    name=f"ivr{i}",
                    role="ivr",
                    admin_port=8280 + i + shift,
                    agi_port=4580 + i + shift,
                    **common,
                )
            )
    return nodes


def queue_node(nodes: list[NodeSpec]) -> NodeSpec:
    return next(n for n in nodes if n.role == "queue")


def cluster_dir(s: Settings) -> Path:
    """This checkout's cluster files: Kamailio's config and run files, node state."""
    return s.var_dir / "cluster"


def overlay_dir(s: Settings, node: str) -> Path:
    """A node's Asterisk root: an overlay over the shared root, outside the work tree
    (keyed by the checkout, like the PostgreSQL cluster)."""
    key = hashlib.sha256(str(s.var_dir.resolve()).encode()).hexdigest()[:12]
    return CACHE_ROOT / f"cluster-{key}" / node


def node_root(s: Settings, node: str) -> Path:
    return overlay_dir(s, node) / "root"


def asterisk_settings(s: Settings, node: NodeSpec) -> Settings:
    """The settings a node's Asterisk is rendered from (its own ports and root)."""
    return s.model_copy(
        update={
            "sip_port": node.sip_port,
            "http_port": node.http_port,
            "ami_port": node.ami_port,
            "rtp_start": node.rtp_start,
            "rtp_end": node.rtp_end,
            "agi_port": node.agi_port or s.agi_port,
            "asterisk_root": node_root(s, node.name),
            "node": node.name,
        }
    )


def app_env(s: Settings, node: NodeSpec, queue: NodeSpec) -> dict[str, str]:
    """The environment of an IVR node's app: its own Asterisk's ARI, the queue
    node's AMI (the live queue load every node sheds by), its own ports and state."""
    return {
        "AGI_APP_NODE": node.name,
        "AGI_APP_STATE_DIR": str(cluster_dir(s) / node.name),
        "AGI_APP_SIP_PORT": str(node.sip_port),
        "AGI_APP_HTTP_PORT": str(node.http_port),
        "AGI_APP_AMI_PORT": str(queue.ami_port),
        "AGI_APP_ADMIN_PORT": str(node.admin_port),
        "AGI_APP_AGI_PORT": str(node.agi_port),
        "AGI_APP_ASTERISK_ROOT": str(node_root(s, node.name)),
    }

"""What the rendered Asterisk configuration needs from our data: agents and queues."""

from __future__ import annotations

from agi_app.core.routing.config import load_queues, render_queues_conf
from agi_app.settings import Settings

# The outbound trunk callbacks dial through: a SIP peer on loopback that stands
# in for the public network (a SIPp UAS in tests).
PSTN_TRUNK = "pstn"


def agents_and_trunks(s: Settings) -> dict[str, int]:
    """PJSIP endpoints with static contacts: queue members plus the PSTN trunk."""
    queues = load_queues(s.config_dir / "queues.yaml")
    endpoints = {m.endpoint: m.port for q in queues.queues.values() for m in q.members}
    endpoints[PSTN_TRUNK] = s.pstn_port
    return endpoints


def queues_conf(s: Settings) -> str:
    """queues.conf text from config/queues.yaml."""
    return render_queues_conf(load_queues(s.config_dir / "queues.yaml"))

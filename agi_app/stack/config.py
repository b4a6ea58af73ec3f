"""What the rendered Asterisk configuration needs from our data: agents and queues."""

from __future__ import annotations

from pathlib import Path

from agi_app.settings import Settings

DEFAULT_AGENTS = {f"agent{n}": 5070 + n for n in range(1, 5)}
# The outbound trunk callbacks dial through: a SIP peer on loopback that stands
# in for the public network (a SIPp UAS in tests).
PSTN_TRUNK = "pstn"


def agents_and_trunks(s: Settings) -> dict[str, int]:
    """PJSIP endpoints with static contacts: agents plus the PSTN trunk."""
    endpoints = dict(DEFAULT_AGENTS)
    try:
        from agi_app.customers.service import load_queues

        queues = load_queues(Path(s.var_dir).parent / "config" / "queues.yaml")
        endpoints = {m.endpoint: m.port for q in queues.queues.values() for m in q.members}
    except (ImportError, AttributeError, FileNotFoundError):
        pass
    endpoints[PSTN_TRUNK] = s.pstn_port
    return endpoints


def queues_conf(s: Settings) -> str:
    """queues.conf text, from config/queues.yaml when the routing data exists."""
    try:
        from agi_app.customers.service import load_queues, render_queues_conf

        text: str = render_queues_conf(
            load_queues(Path(s.var_dir).parent / "config" / "queues.yaml")
        )
        return text
    except (ImportError, AttributeError, FileNotFoundError):
        pass
    members = "".join(f"member => PJSIP/{a},0,{a}\n" for a in DEFAULT_AGENTS)
    out = "[general]\npersistentmembers=no\nshared_lastcall=yes\n\n"
    for name in ("vip", "support", "billing", "english"):
        out += f"[{name}]\nstrategy=rrmemory\ntimeout=15\nretry=1\nwrapuptime=0\n"
        out += f"ringinuse=no\njoinempty=no\nleavewhenempty=no\n{members}\n"
    return out

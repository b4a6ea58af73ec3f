"""The running app's admin HTTP, as the CLI reaches it (`flows reload`, `clock`).

On one node the app answers on ``settings.admin_port``; a cluster made by
`agi-app stack start --nodes N` has no app there but one per IVR node, each on
its own admin port (``cluster_layout``), and what these commands set on one
node applies on every node. So a command tries the configured address first,
then each IVR node of this checkout's cluster (a folder ``var/cluster/ivrN``
each: a local file, no database needed), and moves on only when the
connection is refused: an HTTP answer, even 4xx, is the app's answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from agi_app.settings import Settings
from agi_app.tools.stack.cluster_layout import MAX_IVR_NODES, cluster_dir, layout

_IVR_FOLDER = re.compile(r"ivr([1-9][0-9]*)")


class AppUnreachable(Exception):
    """No admin address answered (the message names every one tried), or the
    one that did broke off."""


@dataclass(frozen=True)
class AdminAnswer:
    """What the app said, and at which base URL."""

    base_url: str
    status: int
    body: Any


def admin_urls(s: Settings) -> list[str]:
    """The admin base URLs to try, in order: the configured one, then each IVR
    node's of this checkout's cluster (none when it has no cluster)."""
    urls = [f"http://{s.bind_address}:{s.admin_port}"]
    for port in _cluster_admin_ports(s):
        url = f"http://{s.bind_address}:{port}"
        if url not in urls:
            urls.append(url)
    return urls


def _cluster_admin_ports(s: Settings) -> list[int]:
    base = cluster_dir(s)
    found = {p.name for p in base.iterdir() if p.is_dir()} if base.is_dir() else set()
    counts = [int(m[1]) for name in found if (m := _IVR_FOLDER.fullmatch(name))]
    if not counts:
        return []
    nodes = layout(s, min(max(counts), MAX_IVR_NODES))
    return [n.admin_port for n in nodes if n.is_ivr and n.name in found]


async def call_admin(
    base_urls: Sequence[str], token: str, method: str, path: str, payload: Any = None
) -> AdminAnswer:
    """``method path`` (JSON ``payload``, if any) at the first base URL that
    does not refuse the connection; its answer whatever the status."""
    refused: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for base in base_urls:
            try:
                async with session.request(method, f"{base}{path}", json=payload) as resp:
                    return AdminAnswer(base, resp.status, await resp.json())
            except aiohttp.ClientConnectorError as exc:
                if not isinstance(exc.os_error, ConnectionRefusedError):
                    raise AppUnreachable(f"the app is not reachable at {base}: {exc}") from exc
                refused.append(base)
            except aiohttp.ClientError as exc:
                raise AppUnreachable(f"the app is not reachable at {base}: {exc}") from exc
    raise AppUnreachable(
        f"the app is not reachable at {', '.join(refused)}: connection refused at each"
    )

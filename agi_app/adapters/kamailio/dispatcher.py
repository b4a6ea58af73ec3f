"""Kamailio's dispatcher as the cluster sees it: node states and loads, reload.

Read over Kamailio's control socket with ``kamcmd`` (Debian's kamailio
package): ``dispatcher.list`` prints one ``DEST`` block per node, whose
``FLAGS`` start with A (active), I (inactive: failed pings or an INVITE) or
D (disabled), followed by P while it is being probed; ``DUID`` is the node's
name and ``DLGLOAD`` the calls it carries now (algorithm 10).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

KAMCMD = "kamcmd"
STATES = {"A": "active", "I": "inactive", "D": "disabled", "T": "trying"}


class KamailioError(RuntimeError):
    """kamcmd failed or Kamailio is not running."""


@dataclass(frozen=True)
class Destination:
    """One node in Kamailio's dispatcher list."""

    uri: str
    node: str
    state: str  # active, inactive, disabled, trying
    probing: bool
    load: int
    maxload: int


def parse_list(text: str) -> list[Destination]:
    """The DEST blocks of ``kamcmd dispatcher.list`` (unknown lines ignored)."""
    out: list[Destination] = []
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("DEST:"):
            if current is not None:
                out.append(_dest(current))
            current = {}
        elif current is not None and ":" in line:
            key, _, value = line.partition(":")
            current.setdefault(key.strip(), value.strip())
    if current is not None:
        out.append(_dest(current))
    return out


def _dest(fields: dict[str, str]) -> Destination:
    flags = fields.get("FLAGS", "")
    return Destination(
        uri=fields.get("URI", ""),
        node=fields.get("DUID", ""),
        state=STATES.get(flags[:1], "unknown"),
        probing="P" in flags[1:],
        load=_int(fields.get("DLGLOAD")),
        maxload=_int(fields.get("MAXLOAD")),
    )


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _kamcmd(ctl_socket: Path, *command: str) -> str:
    try:
        proc = subprocess.run(
            [KAMCMD, "-s", f"unix:{ctl_socket}", *command],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KamailioError(f"kamcmd {' '.join(command)}: {exc}") from exc
    if proc.returncode != 0:
        raise KamailioError(f"kamcmd {' '.join(command)}: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def destinations(ctl_socket: Path) -> list[Destination]:
    """The dispatcher's nodes now."""
    return parse_list(_kamcmd(ctl_socket, "dispatcher.list"))


def reload(ctl_socket: Path) -> None:
    """Re-read dispatcher.list (the node list and caps are data)."""
    _kamcmd(ctl_socket, "dispatcher.reload")


def ping_active(ctl_socket: Path, on: bool) -> None:
    """Start or pause the OPTIONS pings (paused, a dead node is noticed only when
    an INVITE sent to it times out)."""
    _kamcmd(ctl_socket, "dispatcher.ping_active", "1" if on else "0")

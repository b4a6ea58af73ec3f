"""Kamailio (Debian's package) as the cluster's edge: rendered config, our own process.

Debian's package enables a systemd unit; we never use it. Our Kamailio runs
from ``var/cluster/kamailio`` (config, dispatcher.list, pid file, control
socket, log) as ``kamailio -DD -E -f CFG -Y RUNDIR -P PIDFILE``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

from agi_app.adapters.kamailio.dispatcher import KamailioError, destinations
from agi_app.settings import Settings
from agi_app.tools.stack.cluster_layout import NodeSpec, cluster_dir
from agi_app.tools.stack.shell import StackError, run, step

TEMPLATE = Path(__file__).with_name("templates") / "kamailio" / "kamailio.cfg"
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
FR_TIMER_MS = 1000  # an unanswered INVITE fails over after this (>= 2 x T1)
PING_INTERVAL_S = 2
RETRY_AFTER_S = 5
_CHILDREN: list[subprocess.Popen[bytes]] = []


@dataclass(frozen=True)
class KamailioPaths:
    run_dir: Path

    @property
    def config(self) -> Path:
        return self.run_dir / "kamailio.cfg"

    @property
    def dispatcher_list(self) -> Path:
        return self.run_dir / "dispatcher.list"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "kamailio.pid"

    @property
    def ctl(self) -> Path:
        return self.run_dir / "kamailio_ctl"

    @property
    def log(self) -> Path:
        return self.run_dir / "kamailio.log"


def paths(s: Settings) -> KamailioPaths:
    return KamailioPaths(cluster_dir(s) / "kamailio")


def dispatcher_list(nodes: list[NodeSpec], host: str, maxload: int) -> str:
    """One line per IVR node: set 1, its SIP address, its name and call cap."""
    lines = ["# set destination flags priority attributes (rendered by agi-app)"]
    for node in nodes:
        if node.is_ivr:
            attrs = f"duid={node.name};maxload={maxload}"
            lines.append(f"1 sip:{host}:{node.sip_port} 0 0 {attrs}")
    return "\n".join(lines) + "\n"


def render(s: Settings, nodes: list[NodeSpec]) -> KamailioPaths:
    """Write kamailio.cfg and dispatcher.list; check the config with ``kamailio -c``."""
    p = paths(s)
    p.run_dir.mkdir(parents=True, exist_ok=True)
    module_path = MODULES if MODULES.exists() else Path("/usr/lib/kamailio/modules")
    text = Template(TEMPLATE.read_text()).substitute(
        children=2,
        bind_address=s.bind_address,
        sip_port=s.sip_port,
        module_path=f"{module_path}/",
        run_dir=p.run_dir,
        fr_timer_ms=FR_TIMER_MS,
        ping_interval_s=PING_INTERVAL_S,
        retry_after_s=RETRY_AFTER_S,
    )
    p.config.write_text(text)
    write_dispatcher_list(s, nodes)
    run(["kamailio", "-c", "-f", str(p.config)], timeout=30)
    return p


def write_dispatcher_list(s: Settings, nodes: list[NodeSpec]) -> None:
    """The node list; written to a temporary file and renamed (Kamailio may read it)."""
    p = paths(s)
    tmp = p.dispatcher_list.with_suffix(".tmp")
    tmp.write_text(dispatcher_list(nodes, s.bind_address, s.max_concurrent_calls))
    tmp.replace(p.dispatcher_list)


def pid(s: Settings) -> int | None:
    try:
        value = int(paths(s).pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return value if alive(value) else None


def port_free(s: Settings) -> bool:
    """Nothing holds the callers' UDP address now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((s.bind_address, s.sip_port))
        except OSError:
            return False
    return True


def alive(process: int) -> bool:
    """Running, and not a zombie left for a parent that has not reaped it yet."""
    try:
        stat = Path(f"/proc/{process}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def start(s: Settings) -> int:
    """Start Kamailio (rendered first); wait until its control socket answers."""
    if shutil.which("kamailio") is None:
        raise StackError("kamailio is not installed: run `make setup`")
    p = paths(s)
    running = pid(s)
    if running:
        step(f"Kamailio is already running (pid {running})")
        return running
    with p.log.open("ab") as log:
        proc = subprocess.Popen(
            [
                "kamailio",
                "-DD",
                "-E",
                "-f",
                str(p.config),
                "-Y",
                str(p.run_dir),
                "-P",
                str(p.pidfile),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _CHILDREN.append(proc)  # reaped in stop(); it outlives a CLI process that exits
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            destinations(p.ctl)
            started = pid(s)
            if started:
                step(f"Kamailio is up on {s.bind_address}:{s.sip_port} (pid {started})")
                return started
        except KamailioError:
            pass
        time.sleep(0.1)
    raise StackError(f"Kamailio did not start; see {p.log}")


def stop(s: Settings) -> None:
    running = pid(s)
    if not running:
        return
    step(f"Stopping Kamailio (pid {running})")
    os.kill(running, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and pid(s):
        time.sleep(0.05)
    if pid(s):
        os.kill(running, signal.SIGKILL)
    paths(s).pidfile.unlink(missing_ok=True)
    for child in list(_CHILDREN):
        if child.poll() is not None or child.pid == running:
            child.wait(timeout=10)
            _CHILDREN.remove(child)

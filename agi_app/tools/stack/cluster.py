"""A hotline cluster on one machine (`agi-app stack start --nodes N`, `make cluster`).

Kamailio on the callers' address, N IVR nodes and a queue node, each an
Asterisk in an overlay of the shared Asterisk root (its own etc, run, spool,
log and astdb; the root itself stays read-only underneath), each IVR node
with its own app process, and the one PostgreSQL. Where everything listens:
``cluster_layout``.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from agi_app.settings import Settings
from agi_app.tools.appproc import AppProcess
from agi_app.tools.stack import asterisk, kamailio, postgres
from agi_app.tools.stack.cluster_layout import (
    TRUNK_TO_QUEUE,
    NodeSpec,
    app_env,
    asterisk_settings,
    cluster_dir,
    layout,
    node_root,
    overlay_dir,
    queue_node,
)
from agi_app.tools.stack.config import PSTN_TRUNK, agents_and_trunks, queues_conf
from agi_app.tools.stack.dialplan_install import install_snippets_offline
from agi_app.tools.stack.shell import StackError, run, step

# Callers reach an IVR node through the proxy (any request from this host is a
# caller); they get no connected-line updates (the agent's identity is ours).
IVR_PJSIP = """
[proxy](endpoint-base)
context=from-sip
send_connected_line=no

[proxy-identify]
type=identify
endpoint=proxy
match={host}

[{trunk}](endpoint-base)
context=from-agents
aors={trunk}
trust_id_inbound=yes

[{trunk}]
type=aor
contact=sip:{trunk}@{host}:{queue_port}
max_contacts=1
"""

# The queue node: every call from this host that no agent endpoint claims is
# an IVR node's trunk call; the agent who answers goes back as its identity.
QUEUE_PJSIP = """
[ivr](endpoint-base)
context=from-ivr
send_pai=yes
trust_id_outbound=yes

[ivr-identify]
type=identify
endpoint=ivr
match={host}
"""


def mount_overlay(s: Settings, node: str) -> Path:
    """The node's root: the shared root below, the node's own changes above."""
    base = overlay_dir(s, node)
    root = node_root(s, node)
    if asterisk.is_mounted(root):
        return root
    for sub in ("upper", "work", "root"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    opts = f"lowerdir={s.asterisk_root},upperdir={base / 'upper'},workdir={base / 'work'}"
    run(["mount", "-t", "overlay", "overlay", "-o", opts, str(root)])
    return root


def unmount_overlay(s: Settings, node: str) -> None:
    root = node_root(s, node)
    asterisk.unmount_all(root)
    if asterisk.is_mounted(root) and run(["umount", str(root)], check=False).returncode != 0:
        run(["umount", "-l", str(root)], check=False)


def start_node(s: Settings, node: NodeSpec, queue: NodeSpec) -> Settings:
    """Render, install the dialplan and start one node's Asterisk."""
    mount_overlay(s, node.name)
    ns = asterisk_settings(s, node)
    host = s.bind_address
    if node.is_ivr:
        agents = {PSTN_TRUNK: s.pstn_port}
        extra = IVR_PJSIP.format(host=host, trunk=TRUNK_TO_QUEUE, queue_port=queue.sip_port)
        globals_ = {"AGI_APP_QUEUE_TRUNK": TRUNK_TO_QUEUE, "AGI_APP_NODE": node.name}
    else:
        agents = {k: v for k, v in agents_and_trunks(s).items() if k != PSTN_TRUNK}
        extra = QUEUE_PJSIP.format(host=host)
        globals_ = {"AGI_APP_NODE": node.name}
    asterisk.render_config(
        ns,
        ns.asterisk_root,
        agents,
        queues_conf(s),
        extra_pjsip=extra,
        extra_globals=globals_,
        named_agents=not node.is_ivr,
    )
    _system_name(ns.asterisk_root, node.name)
    install_snippets_offline(ns)
    asterisk.start(ns, ns.asterisk_root)
    return ns


def _system_name(root: Path, node: str) -> None:
    """Asterisk's systemname prefixes every channel's unique id with the node's
    name: ids that two nodes make in the same second never collide (journeys are
    keyed by them; they did, and one node's journeys overwrote the other's)."""
    conf = root / "etc/asterisk/asterisk.conf"
    lines = [ln for ln in conf.read_text().splitlines() if not ln.startswith("systemname")]
    at = lines.index("[options]") + 1
    lines.insert(at, f"systemname = {node}")
    conf.write_text("\n".join(lines) + "\n")


def stop_node(s: Settings, node: str) -> None:
    root = node_root(s, node)
    if root.exists():
        asterisk.stop(root)
    unmount_overlay(s, node)


def app_process(s: Settings, node: NodeSpec, queue: NodeSpec) -> AppProcess:
    """The node's app (not started): its settings as the app will read them."""
    env = app_env(s, node, queue)
    node_settings = s.model_copy(
        update={
            "node": node.name,
            "http_port": node.http_port,
            "admin_port": node.admin_port,
            "agi_port": node.agi_port,
            "ami_port": queue.ami_port,
            "state_dir": Path(env["AGI_APP_STATE_DIR"]),
        }
    )
    return AppProcess(node_settings, cluster_dir(s) / node.name / "app.log", env)


def start(s: Settings, ivr_nodes: int, *, apps: bool = True) -> list[AppProcess]:
    """PostgreSQL, every node's Asterisk, Kamailio and (``apps``) the IVR apps."""
    nodes = layout(s, ivr_nodes)
    queue = queue_node(nodes)
    postgres.start(s)
    for node in nodes:
        step(f"Node {node.name}: Asterisk on SIP {node.sip_port}, ARI {node.http_port}")
        start_node(s, node, queue)
    kamailio.render(s, nodes)
    kamailio.start(s)
    started: list[AppProcess] = []
    if apps:
        for node in nodes:
            if node.is_ivr:
                proc = app_process(s, node, queue)
                proc.launch()
                started.append(proc)
        for proc in started:
            proc.wait_ready(60)
            step(f"App of {proc.settings.node} ready (admin {proc.settings.admin_port})")
    return started


def known_nodes(s: Settings) -> list[str]:
    """The nodes this checkout has roots for (whatever --nodes was)."""
    base = overlay_dir(s, "x").parent
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []


def purge_overlays(s: Settings) -> Path | None:
    """Delete this checkout's node roots (``stop`` first). Refused, None, while
    anything is still mounted below them: deleting through a bind mount would
    reach the shared sounds or root."""
    base = overlay_dir(s, "x").parent
    if not base.exists():
        return None
    prefix = str(base.resolve()) + "/"
    with open("/proc/mounts") as fh:
        if any(line.split()[1].startswith(prefix) for line in fh):
            return None
    shutil.rmtree(base)
    return base


def stop(s: Settings) -> None:
    """Every app, Kamailio and every node's Asterisk of this checkout's cluster."""
    for node in known_nodes(s):
        _stop_app(cluster_dir(s) / node / "run" / "app.pid")
    kamailio.stop(s)
    for node in known_nodes(s):
        stop_node(s, node)


def _stop_app(pidfile: Path) -> None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        step(f"Stopped app pid {pid}")
    except OSError:
        pidfile.unlink(missing_ok=True)
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and kamailio.alive(pid):
        time.sleep(0.1)
    if kamailio.alive(pid):
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def restart_asterisk(s: Settings, name: str, ivr_nodes: int) -> None:
    """Start one node's Asterisk again (after a crash), as at cluster start."""
    nodes = layout(s, ivr_nodes)
    node = next((n for n in nodes if n.name == name), None)
    if node is None:
        raise StackError(f"no node {name} in a cluster of {ivr_nodes}")
    start_node(s, node, queue_node(nodes))


def banner(s: Settings, ivr_nodes: int) -> None:
    nodes = layout(s, ivr_nodes)
    rows = "\n".join(
        f"      {n.name:<6} SIP {n.sip_port}  ARI {n.http_port}  AMI {n.ami_port}"
        + (f"  admin {n.admin_port}  FastAGI {n.agi_port}" if n.is_ivr else "  (agents' queues)")
        for n in nodes
    )
    print(
        f"""
==> The hotline cluster is up. Callers use the same address as one node:
      sip:<number>@{s.bind_address}:{s.sip_port}   (Kamailio; calls spread over the IVR nodes)
{rows}
    Status:   .venv/bin/agi-app cluster status
    Logs:     {cluster_dir(s)}/<node>/app.log, {cluster_dir(s)}/kamailio/kamailio.log
    Stop:     make stop
""",
        flush=True,
    )


def running_view(s: Settings) -> Settings:
    """``s`` as a tool outside the cluster must see it while ``make cluster`` runs:
    the queue node's AMI (the queues) and the first IVR node's admin port (its
    clock and shedding apply cluster-wide). ``s`` itself when no cluster runs."""
    names = known_nodes(s)
    ivr = [n for n in names if n.startswith("ivr")]
    if not kamailio.pid(s) or not ivr:
        return s
    nodes = layout(s, len(ivr))
    first = next(n for n in nodes if n.is_ivr)
    return s.model_copy(
        update={"ami_port": queue_node(nodes).ami_port, "admin_port": first.admin_port}
    )

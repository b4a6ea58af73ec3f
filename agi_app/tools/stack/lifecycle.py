"""Setting up, starting and stopping the real parts (`agi-app stack ...`).

``setup`` is idempotent: secrets, the Asterisk root, the PostgreSQL cluster,
migrations, demo data. ``start``/``stop`` bring PostgreSQL and Asterisk up and
down (``stop`` also the app, by its pid file).
"""

from __future__ import annotations

import asyncio
import os
import signal

from agi_app.adapters.postgres.migrate import migrate
from agi_app.settings import PROJECT_ROOT, Settings, get_settings
from agi_app.tools.stack import asterisk, cluster, kamailio, postgres
from agi_app.tools.stack.cluster_layout import node_root
from agi_app.tools.stack.config import agents_and_trunks, queues_conf
from agi_app.tools.stack.secrets import ensure_secrets
from agi_app.tools.stack.shell import StackError, step


def _settings() -> Settings:
    if ensure_secrets(PROJECT_ROOT / "var" / "secrets.env"):
        step("Generated new secrets in var/secrets.env")
        get_settings.cache_clear()
    return get_settings()


def run_migrations(s: Settings) -> list[str]:
    """Apply pending migrations; raises MigrationError naming file and statement."""
    done = asyncio.run(migrate(s.pg_dsn, PROJECT_ROOT / "migrations"))
    step(f"Migrations applied: {', '.join(done) if done else 'none pending'}")
    return done


def setup() -> int:
    s = _settings()
    asterisk.ensure_root(s.asterisk_root)
    was_running = postgres.running(s)
    postgres.start(s)
    try:
        run_migrations(s)
        _load_demo_data(s)
    finally:
        if not was_running:
            postgres.stop(s)
    step("Setup complete")
    return 0


def _load_demo_data(s: Settings) -> None:
    try:
        from agi_app.tools.demo import ensure_demo_data
    except ImportError:
        step("Demo data loader not available yet; skipping")
        return
    step("Loading demo data (skipped when already present)")
    asyncio.run(ensure_demo_data(s))


def start(s: Settings | None = None) -> int:
    """PostgreSQL and Asterisk (configuration rendered from ``s``, or the settings)."""
    s = s or _settings()
    postgres.start(s)
    asterisk.render_config(s, s.asterisk_root, agents_and_trunks(s), queues_conf(s))
    from agi_app.tools.stack.dialplan_install import install_snippets_offline

    install_snippets_offline(s)
    asterisk.start(s, s.asterisk_root)
    return 0


def start_cluster(nodes: int) -> int:
    """Kamailio, ``nodes`` IVR nodes with their apps, the queue node, PostgreSQL."""
    s = _settings()
    if not kamailio.port_free(s) and not kamailio.pid(s):
        raise StackError(
            f"{s.bind_address}:{s.sip_port} (Kamailio's) is taken, by a single-node"
            " Asterisk perhaps: `make stop` first"
        )
    cluster.start(s, nodes)
    cluster.banner(s, nodes)
    return 0


def stop() -> int:
    s = get_settings()
    cluster.stop(s)
    pidfile = s.var_dir / "run" / "app.pid"
    if pidfile.exists():
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            step(f"Stopped the app (pid {pid})")
        except (OSError, ValueError):
            pass
        pidfile.unlink(missing_ok=True)
    asterisk.stop(s.asterisk_root)
    postgres.stop(s)
    return 0


def purge() -> int:
    stop()
    s = get_settings()
    step(f"Deleted the database cluster in {postgres.purge(s)}")
    if cluster.known_nodes(s):
        gone = cluster.purge_overlays(s)
        step(
            f"Deleted the cluster's node roots in {gone}"
            if gone
            else "Kept the cluster's node roots: something is still mounted below them"
        )
    return 0


def status() -> int:
    s = get_settings()
    pid = asterisk.pid(s.asterisk_root)
    print(f"asterisk: {f'running pid {pid}' if pid else 'stopped'}")
    for node in cluster.known_nodes(s):
        node_pid = asterisk.pid(node_root(s, node))
        state = f"running pid {node_pid}" if node_pid else "stopped"
        print(f"cluster node {node}: asterisk {state}")
    state = "running" if postgres.running(s) else "stopped"
    print(f"postgres: {state} ({s.pg_host}:{s.pg_port}, cluster {postgres.cluster_dir(s)})")
    return 0

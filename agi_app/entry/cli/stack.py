"""`agi-app stack`: set up, start, stop and inspect the real parts.

``setup`` is idempotent: secrets, the Asterisk root, the PostgreSQL cluster,
migrations, demo data. ``start``/``stop`` bring PostgreSQL and Asterisk up and down.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

from agi_app.settings import PROJECT_ROOT, Settings, get_settings
from agi_app.tools.stack import asterisk, postgres
from agi_app.tools.stack.config import agents_and_trunks, queues_conf
from agi_app.tools.stack.secrets import ensure_secrets
from agi_app.tools.stack.shell import StackError, step


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("stack", help="set up / start / stop the stack")
    ss = p.add_subparsers(dest="stack_cmd", required=True)
    ss.add_parser("setup", help="secrets, Asterisk root, database, migrations, demo data")
    ss.add_parser("start", help="start PostgreSQL and Asterisk")
    ss.add_parser("stop", help="stop the app, Asterisk and PostgreSQL; unmount")
    ss.add_parser("status", help="what is running")
    ss.add_parser("purge", help="stop everything and delete this checkout's database cluster")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    try:
        commands = {"setup": setup, "start": start, "stop": stop, "status": status, "purge": purge}
        return commands[args.stack_cmd]()
    except StackError as exc:
        print(f"error: {exc}")
        return 1


def _settings() -> Settings:
    if ensure_secrets(PROJECT_ROOT / "var" / "secrets.env"):
        step("Generated new secrets in var/secrets.env")
        get_settings.cache_clear()
    return get_settings()


def setup() -> int:
    s = _settings()
    asterisk.ensure_root(s.asterisk_root)
    was_running = postgres.running(s)
    postgres.start(s)
    try:
        from agi_app.entry.cli.migrate import run_migrations

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
    from agi_app.entry.cli.dialplan import install_snippets_offline

    install_snippets_offline(s)
    asterisk.start(s, s.asterisk_root)
    return 0


def stop() -> int:
    s = get_settings()
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
    step(f"Deleted the database cluster in {postgres.purge(get_settings())}")
    return 0


def status() -> int:
    s = get_settings()
    pid = asterisk.pid(s.asterisk_root)
    print(f"asterisk: {f'running pid {pid}' if pid else 'stopped'}")
    state = "running" if postgres.running(s) else "stopped"
    print(f"postgres: {state} ({s.pg_host}:{s.pg_port}, cluster {postgres.cluster_dir(s)})")
    return 0

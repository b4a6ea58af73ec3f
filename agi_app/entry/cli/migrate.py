"""`agi-app migrate`: apply migrations/NNNN_name.sql in order."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from agi_app.adapters.postgres.migrate import MigrationError, migrate
from agi_app.settings import PROJECT_ROOT, Settings, get_settings
from agi_app.tools.stack.shell import step


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(handler=lambda _a: _handle())


def run_migrations(s: Settings) -> list[str]:
    """Apply pending migrations; raises MigrationError naming file and statement."""
    done = asyncio.run(migrate(s.pg_dsn, PROJECT_ROOT / "migrations"))
    step(f"Migrations applied: {', '.join(done) if done else 'none pending'}")
    return done


def _handle() -> int:
    try:
        run_migrations(get_settings())
    except MigrationError as exc:
        print(f"error: {exc}")
        return 1
    return 0

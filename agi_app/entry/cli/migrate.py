"""`agi-app migrate`: apply migrations/NNNN_name.sql in order."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from agi_app.adapters.postgres.migrate import MigrationError
from agi_app.entry.cli.database import probe
from agi_app.entry.cli.errors import error
from agi_app.settings import get_settings
from agi_app.tools.stack.lifecycle import run_migrations


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(handler=lambda _a: _handle())


def _handle() -> int:
    s = get_settings()
    asyncio.run(probe(s))  # run_migrations connects on its own
    try:
        run_migrations(s)
    except MigrationError as exc:
        error(str(exc))
        return 1
    return 0

"""How a command reports a failure: ``error: ...`` lines on stderr (normal
output stays on stdout, so it can be piped), and the failures ``main`` reports
for every command alike.

``DatabaseUnreachable``: PostgreSQL could not be reached or refused us when a
command connected (``agi_app.entry.cli.database``); ``main`` prints it and
exits 1.
"""

from __future__ import annotations

import sys


class DatabaseUnreachable(Exception):
    """A command could not connect to PostgreSQL; the message says why."""


def error(message: str) -> None:
    """One ``error: MESSAGE`` line on stderr."""
    print(f"error: {message}", file=sys.stderr, flush=True)

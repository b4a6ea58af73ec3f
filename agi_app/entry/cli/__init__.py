"""The ``agi-app`` command line.

Each sub-command lives in its own module of this package exposing
``register(subparsers)``; the list below is the whole command surface.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable

from agi_app.entry.cli.errors import DatabaseUnreachable, error

COMMAND_MODULES = (
    "run",
    "migrate",
    "journeys",
    "flows",
    "prompts",
    "customers",
    "qa",
    "dialplan",
    "report",
    "analytics",
    "clock",
    "stack",
    "bench",
    "announce",
    "shedding",
    "ab",
    "cluster",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agi-app", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"agi_app.entry.cli.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # the AMI library's connection chatter is not a command's output
        logging.getLogger("panoramisk").setLevel(logging.WARNING)
    return run_command(args.handler, args)


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """A command's exit code; the failures every command shares reported as one
    ``error:`` line instead of a traceback."""
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except DatabaseUnreachable as exc:  # one report for every command that connects
        error(str(exc))
        return 1
    except Exception as exc:
        from agi_app.entry.cli import database  # asyncpg: only when something failed

        if not isinstance(exc, database.LOST):
            raise
        error(database.lost(exc))  # connected, then the database went away
        return 1


if __name__ == "__main__":
    sys.exit(main())

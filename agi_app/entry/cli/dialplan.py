"""`agi-app dialplan check|install`: administrators' dialplan snippets.

Both take a folder of ``*.conf`` snippets, the whole set (default
AGI_APP_DIALPLAN_DIR, dialplan/). ``check`` also takes one snippet file: its
syntax alone, since the set's checks (required contexts, a context in two
files) need the others.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from agi_app.entry.cli.errors import error
from agi_app.settings import get_settings
from agi_app.tools.stack.dialplan import Snippet, check_set, parse_snippet
from agi_app.tools.stack.dialplan_install import install


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "dialplan", help="check / install dialplan snippets"
    )
    ds = p.add_subparsers(dest="dialplan_cmd", required=True)
    c = ds.add_parser("check", help="check snippet syntax")
    c.add_argument(
        "directory",
        nargs="?",
        type=Path,
        metavar="PATH",
        help="snippets folder (default dialplan/), or one snippet file: its syntax only",
    )
    i = ds.add_parser("install", help="install, reload, verify")
    i.add_argument(
        "directory",
        nargs="?",
        type=Path,
        metavar="FOLDER",
        help="snippets folder, the whole set (default dialplan/)",
    )
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    s = get_settings()
    directory: Path = args.directory or s.dialplan_dir
    if args.dialplan_cmd == "check" and directory.is_file():
        return _check_file(directory)
    if problem := folder_problem(directory, file_too=args.dialplan_cmd == "check"):
        error(problem)
        return 1
    snippets = check_set(directory)
    if _report(snippets):
        return 1
    if args.dialplan_cmd == "check":
        print(f"ok: {len(snippets)} snippet(s), {sum(len(x.contexts) for x in snippets)} contexts")
        return 0
    errors = asyncio.run(install(s, directory, snippets))
    for err in errors:
        error(str(err))
    return 1 if errors else 0


def folder_problem(directory: Path, file_too: bool = False) -> str | None:
    """Why ``directory`` is no set of snippets; None when it is one. ``file_too``:
    the command also takes one snippet file (say so when neither is there)."""
    if directory.is_file():
        return f"{directory}: a folder of *.conf snippets is expected (install replaces the set)"
    if not directory.is_dir():
        return f"{directory}: no such {'snippet file or ' if file_too else ''}folder"
    if not any(directory.glob("*.conf")):
        return f"{directory}: no *.conf snippets in this folder"
    return None


def _check_file(path: Path) -> int:
    snippet = parse_snippet(path)
    if _report([snippet]):
        return 1
    print(
        f"ok: {path.name}, {len(snippet.contexts)} contexts (syntax only: check its folder"
        " for the required contexts and duplicates)"
    )
    return 0


def _report(snippets: list[Snippet]) -> bool:
    """Print the snippets' errors and warnings (stderr); True if there are errors."""
    for warning in (w for snip in snippets for w in snip.warnings):
        print(f"warning: {warning}", file=sys.stderr)
    errors = [e for snip in snippets for e in snip.errors]
    for err in errors:
        error(str(err))
    return bool(errors)

"""`agi-app dialplan check|install`: administrators' dialplan snippets."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from agi_app.entry.cli.errors import error
from agi_app.settings import get_settings
from agi_app.tools.stack.dialplan import Snippet, check_set
from agi_app.tools.stack.dialplan_install import install


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "dialplan", help="check / install dialplan snippets"
    )
    ds = p.add_subparsers(dest="dialplan_cmd", required=True)
    for name, text in (("check", "check snippet syntax"), ("install", "install, reload, verify")):
        c = ds.add_parser(name, help=text)
        c.add_argument(
            "directory", nargs="?", type=Path, help="snippets folder (default dialplan/)"
        )
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    s = get_settings()
    directory = args.directory or s.dialplan_dir
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


def _report(snippets: list[Snippet]) -> bool:
    errors = [e for snip in snippets for e in snip.errors]
    for err in errors:
        error(str(err))
    if not snippets:
        error("no *.conf snippets found")
        return True
    return bool(errors)

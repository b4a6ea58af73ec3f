"""`agi-app dialplan check|install`: administrators' dialplan snippets."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from agi_app.adapters.ami.client import Ami, AmiError
from agi_app.settings import Settings, get_settings
from agi_app.tools.stack.dialplan import Snippet, check_set, copy_set
from agi_app.tools.stack.shell import step


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
        print(f"error: {err}")
    return 1 if errors else 0


def _report(snippets: list[Snippet]) -> bool:
    errors = [e for snip in snippets for e in snip.errors]
    for err in errors:
        print(f"error: {err}")
    if not snippets:
        print("error: no *.conf snippets found")
        return True
    return bool(errors)


def target_dir(s: Settings) -> Path:
    return s.asterisk_root / "etc/asterisk/extensions.d"


def install_snippets_offline(s: Settings) -> None:
    """Before Asterisk starts: copy the checked snippets in place."""
    snippets = check_set(s.dialplan_dir)
    errors = [e for snip in snippets for e in snip.errors]
    if errors:
        raise SystemExit("dialplan snippets have errors:\n  " + "\n  ".join(errors))
    copy_set(s.dialplan_dir, target_dir(s))
    step(f"Installed {len(snippets)} dialplan snippet(s) into extensions.d")


async def install(s: Settings, directory: Path, snippets: list[Snippet]) -> list[str]:
    """Install into a running Asterisk; verify; restore the previous set on failure."""
    dest = target_dir(s)
    with tempfile.TemporaryDirectory() as backup_dir:
        backup = Path(backup_dir)
        copy_set(dest, backup)
        copy_set(directory, dest)
        ami = Ami(s)
        try:
            await ami.connect()
            errors = await _reload_and_verify(ami, snippets)
            if errors:
                step("Verification failed; restoring the previous snippets")
                copy_set(backup, dest)
                await ami.command("dialplan reload")
            else:
                step(f"Installed and verified {len(snippets)} snippet(s)")
            return errors
        except AmiError as exc:
            copy_set(backup, dest)
            return [f"{exc}; previous snippets restored (reload Asterisk to apply them)"]
        finally:
            ami.close()
            shutil.rmtree(backup, ignore_errors=True)


async def _reload_and_verify(ami: Ami, snippets: list[Snippet]) -> list[str]:
    out = await ami.command("dialplan reload")
    if "reloaded" not in out.lower():
        return [f"dialplan reload failed: {out.strip()[:200]}"]
    errors: list[str] = []
    for snip in snippets:
        for ctx, extensions in snip.contexts.items():
            shown = await ami.command(f"dialplan show {ctx}")
            if f"'{ctx}'" not in shown:
                errors.append(f"{snip.path.name}: context [{ctx}] not loaded by Asterisk")
                continue
            for ext in extensions:
                if f"'{ext}'" not in shown:
                    errors.append(f"{snip.path.name}: extension {ext} of [{ctx}] not loaded")
    return errors

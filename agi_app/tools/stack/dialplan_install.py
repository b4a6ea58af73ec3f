"""Installing dialplan snippets: before Asterisk starts (a copy), or into a running
Asterisk (copy, reload over AMI, verify every context and extension, and put
the previous set back on any miss: Asterisk itself does not catch a broken
snippet)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from agi_app.adapters.ami.client import Ami, AmiError
from agi_app.settings import Settings
from agi_app.tools.stack.dialplan import Snippet, check_set, copy_set
from agi_app.tools.stack.shell import StackError, step


def target_dir(s: Settings) -> Path:
    return s.asterisk_root / "etc/asterisk/extensions.d"


def install_snippets_offline(s: Settings) -> None:
    """Before Asterisk starts: copy the checked snippets in place (their
    warnings said, as ``dialplan install`` says them)."""
    snippets = check_set(s.dialplan_dir)
    errors = [e for snip in snippets for e in snip.errors]
    if errors:
        raise StackError("dialplan snippets have errors:\n  " + "\n  ".join(errors))
    for warning in (w for snip in snippets for w in snip.warnings):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    copy_set(s.dialplan_dir, target_dir(s))
    step(f"Installed {len(snippets)} dialplan snippet(s) into extensions.d{_noted(snippets)}")


def _noted(snippets: list[Snippet]) -> str:
    """What the install line adds when the snippets had warnings."""
    count = sum(len(snip.warnings) for snip in snippets)
    return f" ({count} warning(s) above)" if count else ""


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
                step(f"Installed and verified {len(snippets)} snippet(s){_noted(snippets)}")
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

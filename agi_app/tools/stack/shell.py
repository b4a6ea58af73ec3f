"""Small helpers to run system commands with readable progress."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence

log = logging.getLogger("agi_app.tools.stack")


class StackError(RuntimeError):
    """A set-up or start step failed; the message says which and why."""


def step(message: str) -> None:
    """Say what set-up is doing (make setup prints these)."""
    print(f"==> {message}", flush=True)


def run(
    cmd: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 600,
    input_text: str | None = None,
    quiet: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise StackError with its output."""
    log.debug("run: %s", " ".join(cmd))
    proc = subprocess.run(
        list(cmd), capture_output=True, text=True, timeout=timeout, input=input_text, check=False
    )
    if check and proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip()[-2000:]
        raise StackError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out}")
    if not quiet and proc.returncode != 0:
        log.debug("exit %s: %s", proc.returncode, proc.stderr.strip()[-500:])
    return proc

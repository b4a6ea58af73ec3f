"""The hotline application as a real process (`agi-app run`), for bench and tests.

One readiness check for both: the app is ready when its ``/health`` says the
ARI websocket is connected *and* Asterisk lists the ARI application (the
second guards the moment right after an Asterisk restart, when the app has not
yet noticed that its old connection is gone).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from agi_app.adapters.ari.rest import auth_header
from agi_app.settings import PROJECT_ROOT, Settings

CLI = PROJECT_ROOT / ".venv" / "bin" / "agi-app"


def _get_json(url: str, authorization: str) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": authorization})
    with urllib.request.urlopen(req, timeout=2) as resp:
        return json.loads(resp.read() or b"null") if resp.status == 200 else None


def app_ready(s: Settings, pid: int | None = None) -> bool:
    """The readiness check (see the module docstring); never raises. With ``pid``,
    only that process counts (another app on the same port is not this one)."""
    try:
        health = _get_json(f"http://{s.bind_address}:{s.admin_port}/health", "")
        if not (isinstance(health, dict) and health.get("ari_connected")):
            return False
        if pid is not None and health.get("pid") != pid:
            return False
        listed = _get_json(
            f"{s.ari_base}/applications/{s.ari_app}",
            auth_header(s.ari_user, s.ari_password.get_secret_value()),
        )
        return listed is not None
    except (urllib.error.URLError, OSError, ValueError):
        return False


class AppProcess:
    """Start, wait for, read and stop one `agi-app run` process."""

    def __init__(self, settings: Settings, log_path: Path, env: dict[str, str] | None = None):
        self.settings = settings
        self.log_path = log_path
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.command: list[str] = [str(CLI), "run"]
        self._log: IO[bytes] | None = None

    def launch(self, extra_env: dict[str, str] | None = None) -> None:
        """Start the process; do not wait."""
        if self._log is None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command,
            env={**os.environ, **self.env, **(extra_env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def start(self, extra_env: dict[str, str] | None = None, timeout: float = 30) -> None:
        """Start the process and wait until it is ready."""
        self.launch(extra_env)
        self.wait_ready(timeout)

    def is_ready(self) -> bool:
        """The readiness check of ``wait_ready`` (``app_ready`` for this process)."""
        return app_ready(self.settings, self.proc.pid if self.proc else None)

    def wait_ready(self, timeout: float = 30) -> None:
        """Synchronous, so that async tests can restart the app too."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{' '.join(self.command)} exited with {self.proc.returncode}")
            if self.is_ready():
                return
            time.sleep(0.1)
        raise TimeoutError(f"{' '.join(self.command)} was not ready within {timeout} s")

    async def wait_ready_async(self, timeout: float = 30) -> None:
        await asyncio.to_thread(self.wait_ready, timeout)

    async def metrics(self, reset: bool = False) -> dict[str, Any]:
        """The admin endpoint's figures (``reset``: clear them after reading)."""
        s = self.settings
        url = f"http://{s.bind_address}:{s.admin_port}/admin/stats" + ("?reset=1" if reset else "")
        auth = f"Bearer {s.admin_token.get_secret_value()}"
        data: dict[str, Any] = await asyncio.to_thread(_get_json, url, auth)
        return data

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (a graceful stop), then SIGKILL after ``timeout`` seconds."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

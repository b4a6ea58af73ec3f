"""The private cluster works wherever the checkout is, 0700 parents included."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from agi_app.settings import Settings
from agi_app.tools.stack import postgres
from agi_app.tools.stack.shell import StackError


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_cluster_of_a_checkout_in_a_0700_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)  # like /root, or a `mktemp -d` folder
    home.chmod(0o700)
    s = Settings(
        var_dir=home / "clone" / "var",
        pg_port=_free_port(),
        pg_password=SecretStr("test-secret"),
        pg_database="agi_app_loc",
    )
    base = postgres.cluster_dir(s)
    assert base.is_relative_to(postgres.STATE_ROOT)  # not under the unreachable folder
    try:
        postgres.start(s)
        assert postgres.running(s)
        conn = await asyncpg.connect(s.pg_dsn)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
        assert (base.parent / "checkout").read_text().strip() == str(s.var_dir.resolve())
        assert postgres.log_path(s).exists()
    finally:
        removed = postgres.purge(s)
    assert not postgres.running(s)
    assert not removed.exists()


def test_an_unreachable_cluster_folder_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "closed"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    s = Settings(var_dir=tmp_path / "var", pg_dir=home / "pg", pg_port=_free_port())
    with pytest.raises(StackError, match="postgres user cannot reach"):
        postgres.init(s)

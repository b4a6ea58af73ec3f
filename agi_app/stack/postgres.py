"""A private PostgreSQL 15 cluster under var/pg, run as the ``postgres`` user.

It listens on 127.0.0.1 and a port of its own (settings.pg_port, 55432 by
default) plus a socket in var/pg/run, so it cannot clash with a system cluster.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agi_app.settings import Settings
from agi_app.stack.shell import StackError, run, step

BIN = Path("/usr/lib/postgresql/15/bin")


def _paths(s: Settings) -> tuple[Path, Path, Path]:
    base = s.var_dir / "pg"
    return base / "data", base / "run", s.var_dir / "log" / "postgresql.log"


def _as_postgres(*cmd: str, input_text: str | None = None, check: bool = True) -> str:
    return run(["runuser", "-u", "postgres", "--", *cmd], input_text=input_text, check=check).stdout


def running(s: Settings) -> bool:
    data, _, _ = _paths(s)
    if not (data / "postmaster.pid").exists():
        return False
    proc = run(
        ["runuser", "-u", "postgres", "--", str(BIN / "pg_ctl"), "-D", str(data), "status"],
        check=False,
    )
    return proc.returncode == 0


def init(s: Settings) -> None:
    """Create the cluster once (initdb), owned by postgres."""
    data, sock, log = _paths(s)
    if not BIN.joinpath("initdb").exists():
        raise StackError(
            "PostgreSQL 15 server binaries are missing (apt-get install postgresql-15)"
        )
    for d in (data.parent, sock, log.parent):
        d.mkdir(parents=True, exist_ok=True)
    shutil.chown(data.parent, "postgres", "postgres")
    shutil.chown(sock, "postgres", "postgres")
    if (data / "PG_VERSION").exists():
        return
    step(f"Creating the private PostgreSQL cluster in {data}")
    data.mkdir(mode=0o700, exist_ok=True)
    shutil.chown(data, "postgres", "postgres")
    _as_postgres(
        str(BIN / "initdb"),
        "-D",
        str(data),
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--auth-local=peer",
        "--auth-host=scram-sha-256",
    )


def start(s: Settings) -> None:
    """Start the cluster and make sure our role and database exist."""
    init(s)
    data, sock, log = _paths(s)
    if not running(s):
        step(f"Starting PostgreSQL on {s.pg_host}:{s.pg_port}")
        log.touch()
        shutil.chown(log, "postgres", "postgres")
        opts = (
            f"-c listen_addresses={s.pg_host} -p {s.pg_port} "
            f"-c unix_socket_directories={sock} -c max_connections=200 "
            "-c synchronous_commit=off"
        )
        _as_postgres(
            str(BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        )
    _ensure_role(s, sock)


def _ensure_role(s: Settings, sock: Path) -> None:
    # psql variables keep the generated password out of the SQL text.
    script = (
        f"\\set pw '{s.pg_password.get_secret_value()}'\n"
        f"SELECT 'CREATE ROLE {s.pg_user} LOGIN' WHERE NOT EXISTS "
        f"(SELECT 1 FROM pg_roles WHERE rolname = '{s.pg_user}') \\gexec\n"
        f"ALTER ROLE {s.pg_user} LOGIN CREATEDB PASSWORD :'pw';\n"
        f"SELECT 'CREATE DATABASE {s.pg_database} OWNER {s.pg_user}' WHERE NOT EXISTS "
        f"(SELECT 1 FROM pg_database WHERE datname = '{s.pg_database}') \\gexec\n"
    )
    _as_postgres(
        str(BIN / "psql"),
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(sock),
        "-p",
        str(s.pg_port),
        "-d",
        "postgres",
        input_text=script,
    )


def stop(s: Settings) -> None:
    """Stop the cluster if it runs."""
    data, _, _ = _paths(s)
    if running(s):
        step("Stopping PostgreSQL")
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")

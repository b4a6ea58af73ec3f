"""A private PostgreSQL 15 cluster, run as the ``postgres`` user.

It listens on 127.0.0.1 and a port of its own (settings.pg_port, 55432 by
default) plus a socket of its own, so it cannot clash with a system cluster.

Where it lives: the ``postgres`` user must reach the data directory through
every parent folder, and a clone under ``/root`` (0700) or in a ``mktemp -d``
folder does not let it. So the cluster of a checkout lives in
``/var/lib/agi-app/<key>/pg`` (data, socket, log), ``<key>`` a hash of the
checkout's ``var`` folder, with a ``checkout`` file there naming that folder.
``AGI_APP_PG_DIR`` sets another place; a cluster made by an older version in
``var/pg`` is kept where it is.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from agi_app.settings import Settings
from agi_app.tools.stack.shell import StackError, run, step

BIN = Path("/usr/lib/postgresql/15/bin")
STATE_ROOT = Path("/var/lib/agi-app")


def cluster_dir(s: Settings) -> Path:
    """The folder of this checkout's cluster (see the module docstring)."""
    if s.pg_dir is not None:
        return s.pg_dir
    legacy = s.var_dir / "pg"
    if (legacy / "data" / "PG_VERSION").exists():
        return legacy
    key = hashlib.sha256(str(s.var_dir.resolve()).encode()).hexdigest()[:12]
    return STATE_ROOT / key / "pg"


def log_path(s: Settings) -> Path:
    base = cluster_dir(s)
    legacy = base == s.var_dir / "pg"
    return s.var_dir / "log" / "postgresql.log" if legacy else base / "postgresql.log"


def _paths(s: Settings) -> tuple[Path, Path, Path]:
    base = cluster_dir(s)
    return base / "data", base / "run", log_path(s)


def _prepare_home(s: Settings, base: Path) -> None:
    """Parents root-owned and 0755 (passable by postgres), the cluster folder postgres's."""
    for folder in reversed([*base.parents][: len(base.parents) - 1]):
        if folder in (Path("/var"), Path("/var/lib")):
            continue
        if not folder.exists():
            folder.mkdir(mode=0o755)
            folder.chmod(0o755)  # whatever the umask
    if base.parent.parent == STATE_ROOT:
        (base.parent / "checkout").write_text(f"{s.var_dir.resolve()}\n")
    base.mkdir(exist_ok=True)
    shutil.chown(base, "postgres", "postgres")


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
    if data.parent != s.var_dir / "pg":
        _prepare_home(s, data.parent)
    for d in (data.parent, sock, log.parent):
        d.mkdir(parents=True, exist_ok=True)
    shutil.chown(data.parent, "postgres", "postgres")
    shutil.chown(sock, "postgres", "postgres")
    reach = run(["runuser", "-u", "postgres", "--", "test", "-w", str(data.parent)], check=False)
    if reach.returncode != 0:
        raise StackError(
            f"the postgres user cannot reach {data.parent}: every parent folder must let it"
            " pass (o+x). Set AGI_APP_PG_DIR to a folder it can reach."
        )
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
        step(f"Starting PostgreSQL on {s.pg_host}:{s.pg_port} (cluster {data}, log {log})")
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


def purge(s: Settings) -> Path:
    """Stop the cluster and delete it (``make clean``); returns the folder removed."""
    stop(s)
    base = cluster_dir(s)
    home = base.parent if base.parent.parent == STATE_ROOT else base
    shutil.rmtree(home, ignore_errors=True)
    return home

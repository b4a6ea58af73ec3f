"""Asterisk 22 in a Debian sid root made with debootstrap, run with chroot.

The root lives outside the work tree (a cache) and is reused when its
``asterisk -V`` answers; it is rebuilt when not. Configuration is rendered
from ``templates/`` on every start, so secrets and ports always match settings.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import time
from pathlib import Path
from string import Template

from agi_app.settings import Settings
from agi_app.tools.stack.shell import StackError, run, step

TEMPLATES = Path(__file__).with_name("templates")
DEBOOTSTRAP_PACKAGES = "asterisk,asterisk-core-sounds-en-gsm"


def asterisk_version(root: Path) -> str | None:
    """The version string of a healthy root, or None."""
    if not (root / "usr/sbin/asterisk").exists():
        return None
    proc = run(["chroot", str(root), "asterisk", "-V"], check=False, timeout=30)
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and out.startswith("Asterisk 22") else None


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or classic format)."""
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for line in Path(path).read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    classic = Path("/etc/apt/sources.list")
    if classic.exists():
        for line in classic.read_text().splitlines():
            parts = line.split()
            if parts[:1] == ["deb"] and "security" not in line:
                return parts[1]
    return "http://deb.debian.org/debian"


def ensure_root(root: Path) -> str:
    """Reuse a healthy root or build a new one; return the Asterisk version."""
    version = asterisk_version(root)
    if version:
        step(f"Asterisk root {root} is healthy ({version}); reusing it")
        return version
    step(f"Building the Asterisk root at {root} with debootstrap (about a minute)")
    unmount_all(root)
    tmp = root.with_name(root.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={DEBOOTSTRAP_PACKAGES}",
            "sid",
            str(tmp),
            debian_mirror(),
        ],
        timeout=1800,
    )
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    version = asterisk_version(root)
    if not version:
        raise StackError(f"the new Asterisk root at {root} does not answer `asterisk -V`")
    step(f"Asterisk root ready: {version}")
    return version


def _agents_conf(agents: dict[str, int], host: str, named: bool) -> str:
    blocks = []
    for name, port in agents.items():
        callerid = f"callerid={name} <{name}>\n" if named else ""
        blocks.append(
            f"[{name}](endpoint-base)\ncontext=from-agents\naors={name}\n{callerid}\n"
            f"[{name}]\ntype=aor\ncontact=sip:{name}@{host}:{port}\nmax_contacts=1\n"
        )
    return "\n".join(blocks)


# Stasis message types nothing in this stack consumes (templates/stasis.conf says why).
DECLINED_MESSAGES = (
    "ast_test_suite_message_type",
    "ast_channel_varset_type",
    "ast_rtp_rtcp_sent_type",
    "ast_rtp_rtcp_received_type",
)
# Stasis's taskpool on 2 cores (Asterisk's default: 5 to 50 taskprocessors).
SMALL_TASKPOOL = "[taskpool]\nminimum_size=2\ninitial_size=2\nmax_size=8\n"


def stasis_values(s: Settings) -> dict[str, str]:
    """The template values of stasis.conf."""
    declined = DECLINED_MESSAGES if s.asterisk_decline_messages else ()
    return {
        "stasis_declined": "".join(f"decline={name}\n" for name in declined),
        "stasis_taskpool": SMALL_TASKPOOL if s.asterisk_small_pools else "",
    }


def render_config(
    s: Settings,
    root: Path,
    agents: dict[str, int],
    queues_conf: str,
    *,
    extra_pjsip: str = "",
    extra_globals: dict[str, str] | None = None,
    named_agents: bool = False,
) -> None:
    """Write Asterisk's configuration into the root from templates and settings.

    ``extra_pjsip`` and ``extra_globals`` are a cluster node's additions (its
    trunks, the proxy's identify, AGI_APP_QUEUE_TRUNK); ``named_agents`` gives
    each endpoint its name as caller ID (the queue node: the IVR node learns
    which agent answered from it)."""
    etc = root / "etc/asterisk"
    values = {
        "bind_address": s.bind_address,
        "http_port": s.http_port,
        "ami_port": s.ami_port,
        "sip_port": s.sip_port,
        "rtp_start": s.rtp_start,
        "rtp_end": s.rtp_end,
        "ari_user": s.ari_user,
        "ari_password": s.ari_password.get_secret_value(),
        "ami_user": s.ami_user,
        "ami_password": s.ami_password.get_secret_value(),
        "ari_app": s.ari_app,
        "agi_host": s.agi_host,
        "agi_port": s.agi_port,
        "agents": _agents_conf(agents, s.bind_address, named_agents) + extra_pjsip,
        "extra_globals": "".join(f"{k}={v}\n" for k, v in (extra_globals or {}).items()),
        "cdr_enable": "yes" if s.asterisk_cdr else "no",
        "cdr_csv_load": "load" if s.asterisk_cdr else "noload",
        **stasis_values(s),
    }
    if not values["ari_password"] or not values["ami_password"]:
        raise StackError("ARI/AMI secrets are missing: run `agi-app stack setup` first")
    for tpl in TEMPLATES.glob("*.conf"):
        text = Template(tpl.read_text()).substitute(values)
        _write_private(etc / tpl.name, text)
    _write_private(etc / "queues.conf", queues_conf)
    (etc / "extensions.d").mkdir(exist_ok=True)
    # The DNS fix: blocking look-ups under load made most calls fail (field notes).
    hostname = socket.gethostname()
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost {hostname}\n::1 localhost\n")
    (etc / "users.conf").unlink(missing_ok=True)  # deprecated; only adds a warning
    (root / "usr/share/asterisk/moh").mkdir(parents=True, exist_ok=True)
    (root / "etc/resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")


def _write_private(path: Path, text: str) -> None:
    """Config holds secrets: readable by the asterisk user only."""
    path.write_text(text)
    os.chmod(path, 0o640)
    shutil.chown(path, group=_chroot_gid(path))


def _chroot_gid(path: Path) -> int:
    root = path.parents[2]  # <root>/etc/asterisk/<file>
    for line in (root / "etc/group").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == "asterisk":
            return int(parts[2])
    return 0


def is_mounted(path: Path) -> bool:
    target = str(path.resolve())
    with open("/proc/mounts") as fh:
        return any(line.split()[1] == target for line in fh)


def mount_all(root: Path, sounds_dir: Path, sounds_mount: str) -> None:
    """proc, /dev and our sounds directory inside the root."""
    if not is_mounted(root / "proc"):
        run(["mount", "-t", "proc", "proc", str(root / "proc")])
    if not is_mounted(root / "dev"):
        run(["mount", "--bind", "/dev", str(root / "dev")])
    target = root / sounds_mount.lstrip("/")
    target.mkdir(parents=True, exist_ok=True)
    sounds_dir.mkdir(parents=True, exist_ok=True)
    # The asterisk user reads it through the bind mount: whatever the clone's
    # umask, the folder itself must let others in (its files are made 0644).
    sounds_dir.chmod(sounds_dir.stat().st_mode | 0o755)
    if is_mounted(target) and not _same_dir(target, sounds_dir):
        # Left by another clone sharing the cached root: Asterisk would play
        # that clone's prompts and miss ours.
        step(f"Asterisk's sounds folder pointed elsewhere; binding {sounds_dir}")
        if run(["umount", str(target)], check=False).returncode != 0:
            run(["umount", "-l", str(target)], check=False)
    if not is_mounted(target):
        run(["mount", "--bind", str(sounds_dir), str(target)])


def _same_dir(a: Path, b: Path) -> bool:
    """True if ``a`` and ``b`` are one folder (a bind mount shows the same inode)."""
    sa, sb = a.stat(), b.stat()
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def unmount_all(root: Path) -> None:
    """Unmount everything we mounted below the root (deepest first)."""
    if not root.exists():
        return
    prefix = str(root.resolve()) + "/"
    with open("/proc/mounts") as fh:
        targets = [line.split()[1] for line in fh if line.split()[1].startswith(prefix)]
    for target in sorted(targets, key=len, reverse=True):
        if run(["umount", target], check=False).returncode != 0:
            run(["umount", "-l", target], check=False)


def cli(root: Path, command: str, timeout: float = 20) -> str:
    """Run an Asterisk CLI command through the control socket."""
    return run(["chroot", str(root), "asterisk", "-rx", command], timeout=timeout).stdout


def pid(root: Path) -> int | None:
    """The running Asterisk's pid, if any: the pid file's process, chrooted into
    this root (a stale file, or one a cluster node's overlay shows from the
    shared root below, names another process or none)."""
    pidfile = root / "run/asterisk/asterisk.pid"
    try:
        value = int(pidfile.read_text().strip())
        os.kill(value, 0)
    except (OSError, ValueError):
        return None
    try:
        if os.readlink(f"/proc/{value}/root") != str(root.resolve()):
            return None
    except OSError:
        # Exiting (after kill -9): its root is already released but its control
        # socket may still answer; it still counts as running until it is gone.
        pass
    return value


def start(s: Settings, root: Path) -> None:
    """Start Asterisk as a daemon and wait until it is fully booted."""
    if pid(root):
        mount_all(root, s.sounds_dir, s.asterisk_sounds_mount)  # our prompts, not another clone's
        step("Asterisk is already running")
        return
    step("Starting Asterisk")
    mount_all(root, s.sounds_dir, s.asterisk_sounds_mount)
    # var/spool/asterisk/agi_app: the static menu's call records (dialplan/40-static.conf).
    subs = ("run/asterisk", "var/log/asterisk", "var/lib/asterisk", "var/spool/asterisk")
    for sub in (*subs, "var/spool/asterisk/agi_app"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        run(["chroot", str(root), "chown", "-R", "asterisk:asterisk", "/" + sub])
    run(["chroot", str(root), "asterisk", "-U", "asterisk", "-G", "asterisk"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        proc = run(
            ["chroot", str(root), "asterisk", "-rx", "core waitfullybooted"],
            check=False,
            timeout=30,
        )
        if proc.returncode == 0 and "fully booted" in proc.stdout.lower():
            step(f"Asterisk is up (pid {pid(root)})")
            return
        time.sleep(0.2)
    raise StackError(f"Asterisk did not boot; see {root}/var/log/asterisk/messages.log")


def kill_hard(root: Path, timeout: float = 10) -> int | None:
    """``kill -9`` the running Asterisk (a crash, for fault tests); wait until it is
    gone. The mounts stay: ``start`` runs it again. Returns the pid killed."""
    running = pid(root)
    if running is None:
        return None
    os.kill(running, 9)
    deadline = time.monotonic() + timeout
    while pid(root) == running and time.monotonic() < deadline:
        time.sleep(0.02)
    if pid(root) == running:
        raise StackError(f"Asterisk (pid {running}) still runs {timeout} s after kill -9")
    return running


def stop(root: Path) -> None:
    """Stop Asterisk (if running) and unmount the root."""
    running = pid(root)
    if running:
        step("Stopping Asterisk")
        run(["chroot", str(root), "asterisk", "-rx", "core stop now"], check=False, timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and pid(root):
            time.sleep(0.1)
        if pid(root):
            os.kill(running, 9)
    unmount_all(root)

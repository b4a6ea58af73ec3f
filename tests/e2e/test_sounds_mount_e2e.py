"""The cached Asterisk root is shared by every clone on the machine: its sounds
bind mount must follow the clone that starts the stack (a CI clone once played
another clone's prompts and missed its own)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agi_app.tools.stack import asterisk

pytestmark = pytest.mark.e2e


def test_sounds_mount_left_by_another_clone_is_rebound(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root to bind-mount (the stack does)")
    root, ours, theirs = tmp_path / "root", tmp_path / "ours", tmp_path / "theirs"
    for folder in (root / "proc", root / "dev", ours, theirs):
        folder.mkdir(parents=True)
    (theirs / "theirs.wav").write_bytes(b"x")
    (ours / "ours.wav").write_bytes(b"x")
    mount = "/usr/share/asterisk/sounds/agi_app"
    target = root / mount.lstrip("/")
    try:
        asterisk.mount_all(root, theirs, mount)
        assert (target / "theirs.wav").exists()
        asterisk.mount_all(root, ours, mount)
        assert sorted(p.name for p in target.iterdir()) == ["ours.wav"]
        asterisk.mount_all(root, ours, mount)  # already right: left alone
        assert sorted(p.name for p in target.iterdir()) == ["ours.wav"]
    finally:
        asterisk.unmount_all(root)
    assert not asterisk.is_mounted(target)

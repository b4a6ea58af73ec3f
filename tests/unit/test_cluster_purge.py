"""`stack purge` deletes a cluster's node roots (they were left behind, about
160 MB a checkout), but never while something is mounted below them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agi_app.settings import Settings
from agi_app.tools.stack.cluster import known_nodes, purge_overlays
from agi_app.tools.stack.cluster_layout import node_root, overlay_dir


def test_node_roots_are_deleted(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path / "var")
    for node in ("ivr1", "queue"):
        (node_root(s, node) / "etc").mkdir(parents=True)
    assert known_nodes(s) == ["ivr1", "queue"]
    assert purge_overlays(s) == overlay_dir(s, "x").parent
    assert not overlay_dir(s, "x").parent.exists() and known_nodes(s) == []
    assert purge_overlays(s) is None  # nothing left to delete


def test_nothing_is_deleted_while_a_mount_is_below(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path / "var")
    mounted = node_root(s, "ivr1") / "proc"
    mounted.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mounted)], check=True)
    try:
        (mounted / "kept").write_text("x")
        assert purge_overlays(s) is None
        assert (mounted / "kept").exists()
    finally:
        subprocess.run(["umount", str(mounted)], check=True)
    assert purge_overlays(s) is not None

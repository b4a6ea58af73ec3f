"""The node name and the node's own folder (a cluster runs several apps from one checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agi_app.settings import Settings, _safe_node


def test_node_defaults_to_a_safe_host_name() -> None:
    assert _safe_node("ivr-7.example.com") == "ivr-7"
    assert _safe_node("bad host;name") == "badhostname"
    assert _safe_node("***") == "node"
    assert len(_safe_node("x" * 80)) == 32


@pytest.mark.parametrize("bad", ["", "a b", "x;y", "${SHELL(id)}", "n" * 33])
def test_a_node_name_with_junk_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        Settings(node=bad)


def test_node_files_go_to_the_state_dir(tmp_path: Path) -> None:
    single = Settings(var_dir=tmp_path)
    assert single.node_dir == tmp_path
    assert single.journey_spool == tmp_path / "spool" / "journeys"
    node = Settings(var_dir=tmp_path, state_dir=tmp_path / "nodes" / "ivr1", node="ivr1")
    assert node.journey_spool == tmp_path / "nodes" / "ivr1" / "spool" / "journeys"

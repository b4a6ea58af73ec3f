"""Paths a new user gets wrong on the command line: each is one ``error:`` line
naming the path, exit 1, nothing written; and flows drawn from another folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agi_app.entry.cli import main
from agi_app.settings import PROJECT_ROOT


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_flows_check_names_a_path_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    code, out, err = run(capsys, "flows", "check", str(PROJECT_ROOT / "flows"), str(missing))
    assert (code, out) == (1, "")
    assert err == f"error: {missing}: no such flow file or folder\n"


@pytest.mark.parametrize("suffix", ["txt", "jpg", "yaml"])
def test_flows_graph_refuses_a_format_it_cannot_draw(
    suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / f"g.{suffix}"
    code, out, err = run(capsys, "flows", "graph", "mobile_10086", "-o", str(output))
    assert (code, out) == (1, "")
    assert err == (
        f"error: {output}: cannot draw a .{suffix} file; the suffix says the format:"
        " .svg, .png, .dot\n"
    )
    assert not output.exists()


def test_flows_graph_names_a_missing_output_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "no" / "such" / "g.dot"
    code, out, err = run(capsys, "flows", "graph", "mobile_10086", "-o", str(output))
    assert (code, out) == (1, "")
    assert err == f"error: {output}: no folder {output.parent}\n"


@pytest.mark.parametrize(("suffix", "start"), [("dot", "digraph"), ("svg", "<?xml")])
def test_flows_graph_draws_a_flow_of_another_folder(
    suffix: str, start: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(PROJECT_ROOT / "flows" / "demo_ivr.yaml", other)
    output = tmp_path / f"demo.{suffix}"
    code, out, err = run(
        capsys, "flows", "graph", "demo_ivr", "--dir", str(other), "-o", str(output)
    )
    assert (code, out, err) == (0, f"wrote {output}\n", "")
    assert output.read_text().startswith(start)
    # That folder's flows only: the shipped ones are not there.
    code, _, err = run(
        capsys, "flows", "graph", "mobile_10086", "--dir", str(other), "-o", str(output)
    )
    assert code == 1 and err == "error: no flow 'mobile_10086' (have: demo_ivr)\n"

"""Paths a new user gets wrong on the command line: each is one ``error:`` line
naming the path, exit 1, nothing written; flows drawn from another folder; one
dialplan snippet checked on its own."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agi_app.entry.cli import main
from agi_app.settings import PROJECT_ROOT, get_settings
from tests.fake_ami import FakeAmi

SNIPPETS = PROJECT_ROOT / "dialplan"


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


@pytest.fixture
def no_asterisk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Whatever goes wrong, `dialplan install` reaches no Asterisk root or AMI of the stack."""
    monkeypatch.setenv("AGI_APP_ASTERISK_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("AGI_APP_AMI_PORT", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("check", "{tmp}/nowhere"), "{tmp}/nowhere: no such snippet file or folder"),
        (("install", "{tmp}/nowhere"), "{tmp}/nowhere: no such folder"),
        (("check", "{tmp}"), "{tmp}: no *.conf snippets in this folder"),
        (
            ("install", "{shipped}/10-hotline.conf"),
            "{shipped}/10-hotline.conf: a folder of *.conf snippets is expected"
            " (install replaces the set)",
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_dialplan_names_a_path_that_is_no_set_of_snippets(
    argv: tuple[str, ...],
    message: str,
    no_asterisk: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def fill(text: str) -> str:
        return text.replace("{tmp}", str(tmp_path)).replace("{shipped}", str(SNIPPETS))

    code, out, err = run(capsys, "dialplan", *map(fill, argv))
    assert (code, out, err) == (1, "", f"error: {fill(message)}\n")
    assert not (tmp_path / "root").exists()


def test_dialplan_check_takes_one_snippet_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "dialplan", "check", str(SNIPPETS / "25-enqueue.conf"))
    assert (code, err) == (0, "")
    assert out.startswith("ok: 25-enqueue.conf, 6 contexts (syntax only:")
    broken = tmp_path / "05-broken.conf"
    broken.write_text("[broken\n")
    code, out, err = run(capsys, "dialplan", "check", str(broken))
    assert (code, out) == (1, "")
    assert err == "error: 05-broken.conf:1: malformed section header: [broken\n"


def test_flows_check_knows_the_configured_grades(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checker could check grades, but the CLI gave it none: a misspelt
    grade passed and its branch never matched."""
    flow = (PROJECT_ROOT / "flows" / "demo_ivr.yaml").read_text()
    flow = flow.replace("id: demo_ivr", "id: graded").replace('["100"]', '["95598"]')
    flow = flow.replace("default: true\n", "").replace(
        "start: greeting\nnodes:\n",
        "start: route\nnodes:\n  route:\n    type: branch\n    cases:\n"
        "      - when: {grade_in: [diamnd]}\n        goto: greeting\n    default: greeting\n",
    )
    (tmp_path / "graded.yaml").write_text(flow)
    code, out, err = run(capsys, "flows", "check", str(PROJECT_ROOT / "flows"), str(tmp_path))
    assert (code, out) == (1, "")
    assert "unknown grade 'diamnd' (known: diamond, gold, platinum, silver" in err
    (tmp_path / "graded.yaml").write_text(flow.replace("diamnd", "diamond"))
    assert run(capsys, "flows", "check", str(PROJECT_ROOT / "flows"), str(tmp_path))[0] == 0


def test_dialplan_check_prints_warnings_and_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for snippet in SNIPPETS.glob("*.conf"):
        shutil.copy(snippet, tmp_path)
    (tmp_path / "60-power.conf").write_text(
        "[power]\nexten => 95598,1,Hangup()\ninclude => nowhere\n"
    )
    code, out, err = run(capsys, "dialplan", "check", str(tmp_path))
    assert code == 0 and out.startswith("ok: ")
    assert err == (
        "warning: 60-power.conf:3: [power] includes [nowhere], which no snippet defines:"
        " Asterisk includes nothing\n"
    )


GOTO_NOWHERE = (
    "warning: 60-power.conf:2: [power] Goto sends calls to [hotline-typo], which no snippet"
    " defines: Asterisk hangs them up ('sent to invalid extension') unless this site defines"
    " it elsewhere\n"
)


@pytest.fixture
def fake_asterisk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An AMI on its own thread (the command runs its own event loop) that
    reloads and shows the snippets installed in the Asterisk root it yields."""
    root = tmp_path / "root"
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ami = FakeAmi(extensions_d=root / "etc/asterisk/extensions.d")
    port = asyncio.run_coroutine_threadsafe(ami.start(), loop).result(5)
    monkeypatch.setenv("AGI_APP_ASTERISK_ROOT", str(root))
    monkeypatch.setenv("AGI_APP_AMI_PORT", str(port))
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()
    asyncio.run_coroutine_threadsafe(ami.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def power_snippet(tmp_path: Path) -> Path:
    """The shipped snippets and one more, whose Goto names a context that exists nowhere."""
    snippets = tmp_path / "snippets"
    shutil.copytree(SNIPPETS, snippets)
    (snippets / "60-power.conf").write_text(
        "[power]\nexten => 95598,1,Goto(hotline-typo,95598,1)\n"
    )
    return snippets


def test_dialplan_check_says_where_a_goto_leads_nowhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "dialplan", "check", str(power_snippet(tmp_path)))
    assert (code, err) == (0, GOTO_NOWHERE)
    assert out.startswith("ok: 7 snippet(s)")


def test_dialplan_install_says_where_a_goto_leads_nowhere(
    fake_asterisk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`install` said "Installed and verified" and no more for a Goto to a
    context that exists nowhere; every call sent there was hung up."""
    code, out, err = run(capsys, "dialplan", "install", str(power_snippet(tmp_path)))
    assert (code, err) == (0, GOTO_NOWHERE)
    assert out.endswith("==> Installed and verified 7 snippet(s) (1 warning(s) above)\n")
    assert (fake_asterisk / "etc/asterisk/extensions.d/60-power.conf").exists()

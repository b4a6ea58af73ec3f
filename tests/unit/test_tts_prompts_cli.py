"""Finding the flows' static prompts, and `agi-app prompts render|say|evict`."""

from __future__ import annotations

import os
import subprocess
import wave
from pathlib import Path

import pytest

from agi_app.adapters.tts.flowscan import FlowFileError, iter_prompts
from agi_app.settings import PROJECT_ROOT

FLOW_EN = """
id: demo_en
language: en
nodes:
  greet:
    type: menu
    prompt: Welcome.
    invalid_prompt: [Sorry., Try again.]
    timeout_prompt: {zh: 请按键。, en: Please press a key.}
    label: not a prompt
  say:
    type: play
    prompts: [Welcome., {zh: 再见。, en: Goodbye.}, "Your balance is {b:amount}."]
    items:
      - {text: Menu item one.}
"""
FLOW_ZH = """
id: demo_zh
nodes:
  a: {type: play, prompts: [您好。, 再见。], announce: "{{literal}}", label: 标签}
"""


def test_iter_prompts_walks_yaml_generically(tmp_path: Path) -> None:
    (tmp_path / "a_en.yaml").write_text(FLOW_EN)
    (tmp_path / "b_zh.yaml").write_text(FLOW_ZH)
    assert list(iter_prompts(tmp_path)) == [
        ("Welcome.", "en"),
        ("Sorry.", "en"),
        ("Try again.", "en"),
        ("请按键。", "zh"),
        ("Please press a key.", "en"),
        ("再见。", "zh"),
        ("Goodbye.", "en"),
        ("Menu item one.", "en"),
        ("您好。", "zh"),  # the default language is zh
    ]  # not "{{literal}}": the flow engine fills it at call time, as a template


def test_iter_prompts_of_the_project_flows() -> None:
    prompts = list(iter_prompts(PROJECT_ROOT / "flows"))
    assert ("您好，这里是演示热线。收听公告请按一。", "zh") in prompts
    assert ("For English service, press two.", "en") in prompts
    assert not [text for text, _ in prompts if "{" in text]
    assert {lang for _, lang in prompts} == {"zh", "en"}


def test_prompts_of_a_flow_saved_as_utf16_are_found(tmp_path: Path) -> None:
    """The flow loader reads a UTF-16 file with its byte-order mark; the prompt
    scan (`prompts render`) and the analytics' flow models must read it too."""
    (tmp_path / "b_zh.yaml").write_bytes(FLOW_ZH.encode("utf-16"))  # BOM first
    assert list(iter_prompts(tmp_path)) == [("您好。", "zh"), ("再见。", "zh")]
    (tmp_path / "c.yaml").write_bytes("nodes: [\xff\n".encode("latin-1"))
    with pytest.raises(FlowFileError, match=r"c\.yaml.*not UTF-8: line 1"):
        list(iter_prompts(tmp_path))


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("nodes: [unclosed\n")
    with pytest.raises(FlowFileError, match=r"bad\.yaml"):
        list(iter_prompts(tmp_path))


def agi_app(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGI_APP_SOUNDS_DIR": str(tmp_path / "sounds"),
           "AGI_APP_CONFIG_DIR": str(tmp_path / "config")}  # fmt: skip
    return subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/agi-app"), "prompts", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_prompts_render_say_evict(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "f.yaml").write_text(FLOW_ZH)
    first = agi_app(tmp_path, "render", "--flows", str(flows))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[:2] == ["[1/2] rendered zh 您好。", "[2/2] rendered zh 再见。"]
    assert "fallback_menu" in lines[-1]
    again = agi_app(tmp_path, "render", "--flows", str(flows))
    assert again.stdout.splitlines()[:2] == ["[1/2] cached zh 您好。", "[2/2] cached zh 再见。"]
    for ext in (".wav", ".sln16"):
        assert (tmp_path / "sounds" / "static" / f"fallback_menu{ext}").stat().st_size > 1000

    said = agi_app(tmp_path, "say", "Hello there.", "--lang", "en")
    assert said.returncode == 0, said.stderr
    wav = Path(said.stdout.strip())
    assert wav.is_relative_to(tmp_path / "sounds" / "cache" / "en")
    with wave.open(str(wav)) as w:
        assert w.getframerate() == 8000

    dyn = tmp_path / "sounds" / "cache" / "zh" / "dyn"
    dyn.mkdir()
    (dyn / "old.wav").write_bytes(b"RIFF")
    os.utime(dyn / "old.wav", (0, 0))
    evicted = agi_app(tmp_path, "evict", "--max-age", "3600")
    assert evicted.stdout.strip() == "evicted 1 dynamic prompt(s)"

    bad = agi_app(tmp_path, "say", "Bonjour.", "--lang", "fr")
    assert bad.returncode == 1 and "no voice for language 'fr'" in bad.stderr

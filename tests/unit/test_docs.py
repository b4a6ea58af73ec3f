"""The README and docs/ against the code they describe: every setting in the
settings tables with its default, every path and module named there present,
every context the shipped snippets define in the snippet table, the
rtp_timeout the QA section quotes."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from agi_app.core.flows.model import Transfer
from agi_app.settings import PROJECT_ROOT, Settings
from agi_app.tools.stack.dialplan import parse_snippet

README = PROJECT_ROOT / "README.md"
DOCS = [README, *sorted((PROJECT_ROOT / "docs").glob("*.md"))]


def table_rows(text: str, header: str) -> list[list[str]]:
    """The cells of every row of the tables whose header row starts with ``header``."""
    rows: list[list[str]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith(header):
            inside = True
        elif not line.startswith("|"):
            inside = False
        elif inside and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def documented_settings() -> dict[str, str]:
    """Setting name (lower case, no prefix) -> its default cell, from the README's tables."""
    found: dict[str, str] = {}
    for names, defaults, *_ in table_rows(README.read_text(), "| setting | default |"):
        keys = re.findall(r"`AGI_APP_([A-Z0-9_]+)`", names)
        values = defaults.split(", ") if len(keys) > 1 else [defaults]
        assert len(values) == len(keys), f"one default per setting: {names} | {defaults}"
        for key, value in zip(keys, values, strict=True):
            assert key.lower() not in found, f"AGI_APP_{key} is in two rows"
            found[key.lower()] = value
    return found


def shown(default: Any) -> str | None:
    """How the README writes a default; None when it is described, not quoted
    (generated secrets, derived paths, the host name)."""
    if isinstance(default, bool):
        return "1" if default else "0"
    if isinstance(default, int | float | str):
        return f"{default:g}" if isinstance(default, float) else str(default)
    if isinstance(default, Path):
        inside = default.is_relative_to(PROJECT_ROOT)
        return f"{default.relative_to(PROJECT_ROOT)}/" if inside else str(default)
    assert default is None or isinstance(default, SecretStr)
    return None


def test_every_setting_is_in_the_readme_with_its_default() -> None:
    documented = documented_settings()
    fields = Settings.model_fields
    assert sorted(set(fields) - set(documented)) == [], "settings missing from the README"
    assert sorted(set(documented) - set(fields)) == [], "README rows for no setting"
    for name, field in fields.items():
        expected = None if field.default_factory else shown(field.default)
        if expected is not None:
            assert f"`{expected}`" in documented[name], f"AGI_APP_{name.upper()}: {expected}"


# agi_app/..., config/..., flows/... as written in prose; a layer-relative
# module (`service/flows/runners.py`); a dotted module (`agi_app.tools.qa.heard`).
REPO_PATH = re.compile(
    r"(?<![\w/.~$-])(?:agi_app|config|dialplan|docs|flows|migrations|tests)/[\w.*/-]*[\w*/]"
)
LAYER_PATH = re.compile(r"(?<![\w/.~$-])(?:core|service|adapters|entry|tools)/[\w*/-]+\.py\b")
MODULE = re.compile(r"(?<![\w/.])agi_app(?:\.[a-z_0-9]+)+")


def exists(base: Path, path: str) -> bool:
    """``path`` names files under ``base`` (globs allowed; a name without a
    suffix may be a prefix, as `migrations/0009`)."""
    if any(base.glob(path)):
        return True
    return "." not in path.rstrip("/").rsplit("/", 1)[-1] and any(base.glob(f"{path}*"))


def module_exists(dotted: str) -> bool:
    """A module, or an attribute of one (`agi_app.core.clock.BusinessClock`)."""
    module, _, attribute = dotted.rpartition(".")
    for name in (dotted, module):
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # a parent is missing, or is no package
            continue
        if spec is not None:
            return name == dotted or hasattr(importlib.import_module(name), attribute)
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_and_module_a_doc_names_exists(doc: Path) -> None:
    text = doc.read_text()
    stale = [
        p
        for rx, base in ((REPO_PATH, PROJECT_ROOT), (LAYER_PATH, PROJECT_ROOT / "agi_app"))
        for p in (m.group(0).rstrip(".") for m in rx.finditer(text))
        if "NNNN" not in p and not exists(base, p)
    ]
    stale += [m for m in MODULE.findall(text) if not module_exists(m.rstrip("."))]
    assert stale == []


def test_the_snippet_table_lists_every_context_of_the_shipped_snippets() -> None:
    rows = table_rows(README.read_text(), "| snippet | contexts |")
    listed = {name.strip("`"): set(re.findall(r"`\[([\w.+-]+)\]`", ctx)) for name, ctx in rows}
    shipped = {
        path.name: set(parse_snippet(path).contexts)
        for path in sorted((PROJECT_ROOT / "dialplan").glob("*.conf"))
    }
    assert listed == shipped


def test_the_qa_section_gives_the_rtp_timeout_the_stack_sets() -> None:
    """SIPp callers send no audio while they wait in a queue: the README says
    when Asterisk hangs them up, which is only right while it quotes the
    template's value and the transfer's default wait."""
    template = (PROJECT_ROOT / "agi_app/tools/stack/templates/pjsip.conf").read_text()
    [seconds] = re.findall(r"^rtp_timeout=(\d+)$", template, flags=re.M)
    text = " ".join(README.read_text().split())
    assert f"`rtp_timeout` seconds (`rtp_timeout={seconds}` in" in text
    assert f"A `transfer` waits {Transfer.model_fields['timeout_s'].default} s by default" in text

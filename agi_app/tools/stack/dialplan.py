"""Dialplan snippets: syntax checks, installation, verification, roll-back.

Asterisk's own reload is no judge: a broken snippet (an unclosed ``[``)
silently drops every snippet sorted after it while ``dialplan reload`` still
says "Dialplan reloaded" (field notes). So we check the text before install
and, after the reload, ask Asterisk (AMI ShowDialPlan) for every context and
extension the snippets define; on any miss the previous set goes back.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

SECTION = re.compile(r"^\[(?P<name>[A-Za-z0-9_+.-]+)\](\((?P<tpl>[^)]*)\))?\s*(;.*)?$")
KEYED = re.compile(r"^(exten|same|include|ignorepat|switch)\s*=>?\s*(?P<rest>.*)$")
COMMENT = re.compile(r"(?<!\\);")
ASSIGN = re.compile(r"^[A-Za-z0-9_]+\s*=\s*.*$")
REQUIRED_CONTEXTS = ("from-sip", "hotline", "hotline-queue", "hotline-agi", "hotline-static")


@dataclass
class Snippet:
    path: Path
    contexts: dict[str, set[str]] = field(default_factory=dict)  # context -> extensions
    errors: list[str] = field(default_factory=list)


def parse_snippet(path: Path, text: str | None = None) -> Snippet:
    """Check one snippet's syntax and list the contexts/extensions it defines."""
    snip = Snippet(path)
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
    except (OSError, UnicodeDecodeError) as exc:
        snip.errors.append(f"{path.name}: cannot read: {exc}")
        return snip
    current: str | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = COMMENT.split(raw, maxsplit=1)[0].strip()
        if not line:
            continue
        if line.startswith("#"):
            snip.errors.append(
                f"{path.name}:{n}: directives (#include) are not allowed in snippets"
            )
        elif line.startswith("["):
            m = SECTION.match(line)
            if not m:
                snip.errors.append(f"{path.name}:{n}: malformed section header: {line[:60]}")
                current = None
                continue
            current = m.group("name")
            if current in ("general", "globals"):
                snip.errors.append(f"{path.name}:{n}: [{current}] belongs to extensions.conf")
            snip.contexts.setdefault(current, set())
        elif current is None:
            snip.errors.append(f"{path.name}:{n}: line outside any [context]: {line[:60]}")
        elif (m := KEYED.match(line)) is not None:
            if line.count("(") != line.count(")"):
                snip.errors.append(
                    f"{path.name}:{n}: unbalanced parentheses (a ';' starts a comment): {line[:60]}"
                )
            if line.startswith("exten"):
                ext = m.group("rest").split(",", 1)[0].strip()
                if not ext or "," not in m.group("rest"):
                    snip.errors.append(f"{path.name}:{n}: exten needs 'name,priority,app'")
                else:
                    snip.contexts[current].add(ext)
        elif not ASSIGN.match(line):
            snip.errors.append(f"{path.name}:{n}: not a dialplan line: {line[:60]}")
    return snip


def check_set(directory: Path, required: tuple[str, ...] = REQUIRED_CONTEXTS) -> list[Snippet]:
    """Parse every ``*.conf`` snippet; add an error when a required context is missing."""
    snippets = [parse_snippet(p) for p in sorted(directory.glob("*.conf"))]
    defined = {c for s in snippets for c in s.contexts}
    seen: dict[str, Path] = {}
    for snip in snippets:
        for ctx in snip.contexts:
            if ctx in seen:
                snip.errors.append(f"{snip.path.name}: context [{ctx}] also in {seen[ctx].name}")
            seen[ctx] = snip.path
    missing = [c for c in required if c not in defined]
    if missing and snippets:
        snippets[0].errors.append(f"required context(s) missing from the set: {', '.join(missing)}")
    return snippets


def copy_set(src: Path, dest: Path) -> None:
    """Replace the ``*.conf`` files in ``dest`` by those of ``src``."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.conf"):
        old.unlink()
    for new in sorted(src.glob("*.conf")):
        shutil.copy2(new, dest / new.name)
        (dest / new.name).chmod(0o644)

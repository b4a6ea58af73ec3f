"""The static prompts of the flow files, found without the flow model.

``agi-app prompts render`` renders ahead every prompt a flow can play. It
walks the YAML generically rather than through ``agi_app.flows`` so that it
keeps working whatever shape the nodes take: any mapping with a prompt key
(:data:`PROMPT_KEYS`) contributes its value, which may be a string, a mapping
``{zh: ..., en: ...}`` keyed by language, or a list of those. A string's
language is the flow file's top-level ``language`` (default ``zh``).
Templates are skipped: they are filled at call time. Like the flow engine,
any text with a ``{`` counts as one (even ``{{``, which it fills to ``{``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from agi_app.core.flows.source import parse_yaml, read_capped

PROMPT_KEYS = frozenset(
    {"prompt", "prompts", "text", "invalid_prompt", "timeout_prompt", "intro", "announce"}
)
DEFAULT_LANGUAGE = "zh"


class FlowFileError(ValueError):
    """A flow file that is not readable YAML."""


def flow_files(flows_dir: Path) -> list[Path]:
    """The YAML files under ``flows_dir``, sorted, hidden ones left out."""
    files = [*flows_dir.rglob("*.yaml"), *flows_dir.rglob("*.yml")]
    return sorted(p for p in files if not any(part.startswith(".") for part in p.parts))


def _document(path: Path) -> Any:
    """A flow file's data, read as the flow loader reads it (size cap, UTF-8 or
    a byte-order mark's encoding); FlowFileError naming the file otherwise."""
    raw, errors = read_capped(path, str(path))
    doc = None
    if raw is not None:
        doc, errors = parse_yaml(raw, str(path))
    if errors:
        raise FlowFileError("; ".join(str(e) for e in errors))
    return doc


def iter_prompts(flows_dir: Path) -> Iterable[tuple[str, str]]:
    """(text, language) of every static prompt of every flow, each once, in file order."""
    seen: dict[tuple[str, str], None] = {}
    for path in flow_files(flows_dir):
        doc = _document(path)
        default = DEFAULT_LANGUAGE
        if isinstance(doc, dict) and isinstance(doc.get("language"), str):
            default = doc["language"]
        for text, language in _walk(doc, default):
            if text.strip() and "{" not in text:
                seen.setdefault((text, language), None)
    return list(seen)


def _walk(node: Any, language: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PROMPT_KEYS:
                yield from _prompt_texts(value, language)
            else:
                yield from _walk(value, language)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, language)


def _prompt_texts(value: Any, language: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield value, language
    elif isinstance(value, list):
        for item in value:
            yield from _prompt_texts(item, language)
    elif isinstance(value, dict):
        for lang, text in value.items():
            if isinstance(lang, str) and isinstance(text, str):
                yield text, lang

"""A flow file's bytes to data: at most 1 MB, UTF-8 (or UTF-16 with its
byte-order mark, as Windows Notepad saves "Unicode"), no key given twice.

PyYAML keeps the last of two equal keys without a word, so a second ``main:``
under ``nodes:`` would replace the first; the composed node tree is checked
for repeated keys before it becomes data. libyaml's parser is used when
present (a few times faster); on an error the pure-Python parser reads the
file again, as its messages quote the line.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml

from agi_app.core.flows.errors import FlowError

# A flow file larger than this is refused unread: the biggest shipped flow is
# about 5 kB, and YAML parsing costs seconds a megabyte.
MAX_FILE_BYTES = 1_000_000
_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"  # "<<: *anchor" may repeat keys it merges in
# What a byte-order mark says the text is; without one, UTF-8.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def read_capped(path: Path, file: str) -> tuple[bytes | None, list[FlowError]]:
    """The file's bytes, or None and why not (unreadable, larger than the cap)."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [FlowError(file, None, None, f"cannot read: {exc.strerror or exc}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            FlowError(
                file,
                None,
                None,
                f"larger than {MAX_FILE_BYTES // 1_000_000} MB: split it into several flows"
                " (a goto node jumps from one to another)",
            )
        ]
    return raw, []


def parse_yaml(raw: bytes, file: str) -> tuple[Any, list[FlowError]]:
    """The document's data, or None and the errors."""
    utf8, errors = as_utf8(raw, file)
    if utf8 is None:
        return None, errors
    try:
        try:
            return _load(utf8, _FAST, file)
        except yaml.YAMLError:
            return _load(utf8, yaml.SafeLoader, file)
    except yaml.YAMLError as exc:
        return None, [FlowError(file, None, None, "not valid YAML: " + " ".join(str(exc).split()))]
    except RecursionError:
        return None, [FlowError(file, None, None, "not valid YAML: nested too deeply")]


def as_utf8(raw: bytes, file: str) -> tuple[bytes | None, list[FlowError]]:
    """The file's text in UTF-8, a byte-order mark dropped; or None and where
    it is not in its encoding. (Bytes, not str, for the parser: its messages
    stay the same whatever the file's encoding.)"""
    encoding, body = "utf-8", raw
    for bom, name in _BOMS:
        if raw.startswith(bom):
            encoding, body = name, raw[len(bom) :]
            break
    try:
        text = body.decode(encoding)
        return body if encoding == "utf-8" else text.encode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = body[: exc.start].decode(encoding, errors="replace").count("\n") + 1
        what = (
            f"a byte (0x{body[exc.start]:02X}) that is not UTF-8"
            if encoding == "utf-8"
            else "a broken UTF-16 character (it starts with a UTF-16 byte-order mark)"
        )
    return None, [
        FlowError(
            file,
            None,
            None,
            f"not {'UTF-8' if encoding == 'utf-8' else 'UTF-16'}: line {line} has {what};"
            " save the file as UTF-8 (not GBK or another local encoding)",
        )
    ]


def _load(raw: bytes, loader_class: Any, file: str) -> tuple[Any, list[FlowError]]:
    loader = loader_class(raw)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, []
        errors = repeated_keys(root, file)
        return (None, errors) if errors else (loader.construct_document(root), [])
    finally:
        loader.dispose()


def repeated_keys(root: yaml.Node, file: str) -> list[FlowError]:
    """A key given twice in one mapping, anywhere in the document."""
    errors: list[tuple[int, FlowError]] = []
    seen: set[int] = set()  # an anchored node is walked once
    todo: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    while todo:
        node, path = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            todo += [(item, (*path, str(i))) for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            lines: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else None
                if name is None or key.tag == _MERGE:
                    continue
                line = key.start_mark.line + 1
                if name in lines:
                    errors.append((line, _repeated(file, path, name, lines[name], line)))
                lines.setdefault(name, line)
                todo.append((value, (*path, name)))
    return [e for _, e in sorted(errors, key=lambda pair: pair[0])]


def _repeated(file: str, path: tuple[str, ...], key: str, first: int, again: int) -> FlowError:
    lines = f"lines {first} and {again}"
    if path == ("nodes",):
        return FlowError(file, None, None, f"node {key!r} defined twice ({lines})")
    if len(path) >= 2 and path[0] == "nodes":
        return FlowError(
            file, path[1], ".".join(path[2:]) or None, f"key {key!r} repeated ({lines})"
        )
    return FlowError(file, None, ".".join(path) or None, f"key {key!r} repeated ({lines})")

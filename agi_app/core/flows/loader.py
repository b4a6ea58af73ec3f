"""Loading a flow set: parse YAML, validate models, check the graph.

Errors name the file, the node and the field, e.g.
``flows/mobile_10086.yaml: node 'main' field 'choices.3': unknown target 'nowhere'``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from agi_app.core.flows.checks import Known, check_flow
from agi_app.core.flows.errors import FlowError
from agi_app.core.flows.model import Flow
from agi_app.core.flows.source import parse_yaml, read_capped
from agi_app.core.flows.walks import graph_errors

__all__ = ["FlowError", "FlowSet", "Known", "check_flow", "load_flowset"]


@dataclass(frozen=True)
class FlowSet:
    """An immutable, validated set of flows; calls keep the one they started with."""

    flows: dict[str, Flow]
    by_number: dict[str, str]
    default: str | None
    version: str
    files: dict[str, str] = field(default_factory=dict)  # flow id -> file (as errors name it)

    def for_number(self, called: str) -> Flow | None:
        flow_id = self.by_number.get(called, self.default)
        return self.flows.get(flow_id) if flow_id else None


# [from-sip] hands a flow the called number as dialled: digits (a leading '+'
# is stripped by `_+X.`), two or more (`_X.`); E.164 numbers have at most 15.
ENTRY_NUMBER = re.compile(r"[0-9]{2,15}")


def load_flowset(paths: Iterable[Path], known: Known) -> tuple[FlowSet | None, list[FlowError]]:
    """Load and validate; the set is returned only when there is no error."""
    files = _expand(paths)
    labels = _labels(files)
    errors: list[FlowError] = []
    flows: dict[str, Flow] = {}
    names: dict[str, str] = {}
    digest = hashlib.sha256()
    for path in files:
        raw, read_errors = read_capped(path, labels[path])
        if raw is None:
            errors += read_errors
            continue
        digest.update(path.name.encode() + b"\0" + raw)
        flow = _parse(labels[path], raw, errors)
        if flow is None:
            continue
        if flow.id in flows:
            errors.append(
                FlowError(labels[path], None, "id", f"flow id {flow.id!r} also in {names[flow.id]}")
            )
            continue
        flows[flow.id], names[flow.id] = flow, labels[path]
    if not files:
        errors.append(FlowError(",".join(str(p) for p in paths), None, None, "no flow files"))
    by_number, default = _entries(flows, names, errors)
    for flow in flows.values():
        errors += check_flow(flow, names[flow.id], flows, known)
    errors += graph_errors(flows, names)
    if errors:
        return None, errors
    return FlowSet(flows, by_number, default, digest.hexdigest()[:12], names), []


def _expand(paths: Iterable[Path]) -> list[Path]:
    out: dict[Path, Path] = {}  # a file named twice (a folder given twice) is read once
    for p in paths:
        for f in sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p]:
            out.setdefault(f.resolve(), f)
    return list(out.values())


def _labels(files: list[Path]) -> dict[Path, str]:
    """How errors name each file: its name, or its path when the files come
    from several folders (the same name may then be in two of them)."""
    several = len({f.resolve().parent for f in files}) > 1
    return {f: str(f) if several else f.name for f in files}


def _parse(file: str, raw: bytes, errors: list[FlowError]) -> Flow | None:
    data, read_errors = parse_yaml(raw, file)
    if read_errors:
        errors += read_errors
        return None
    if not isinstance(data, dict):
        errors.append(FlowError(file, None, None, "a flow file must be a mapping"))
        return None
    try:
        return Flow.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(x) for x in err["loc"]]
            node = loc[1] if len(loc) > 1 and loc[0] == "nodes" else None
            rest = loc[2:] if node else loc
            if node and rest and rest[0] in _TYPE_TAGS:
                rest = rest[1:]  # drop pydantic's union tag from the field path
            errors.append(FlowError(file, node, ".".join(rest) or None, err["msg"]))
        return None


_TYPE_TAGS = {
    "play",
    "menu",
    "input",
    "transaction",
    "branch",
    "dynamic_menu",
    "transfer",
    "goto",
    "return",
    "set",
    "hangup",
}


def _entries(
    flows: dict[str, Flow], names: dict[str, str], errors: list[FlowError]
) -> tuple[dict[str, str], str | None]:
    by_number: dict[str, str] = {}
    defaults = [f.id for f in flows.values() if f.default]
    for flow in flows.values():
        for number in flow.entry_numbers:
            if not ENTRY_NUMBER.fullmatch(number):
                errors.append(
                    FlowError(
                        names[flow.id],
                        None,
                        "entry_numbers",
                        f"number {number!r} is never a called number: digits only, 2 to 15 of"
                        " them (no spaces, dashes or '+')",
                    )
                )
                continue
            if by_number.get(number) == flow.id:
                errors.append(
                    FlowError(
                        names[flow.id], None, "entry_numbers", f"number {number} listed twice"
                    )
                )
                continue
            if number in by_number:
                errors.append(
                    FlowError(
                        names[flow.id],
                        None,
                        "entry_numbers",
                        f"number {number} also enters flow {by_number[number]!r}"
                        f" in {names[by_number[number]]}",
                    )
                )
            by_number[number] = flow.id
    if len(defaults) > 1:
        errors.append(
            FlowError(
                names[defaults[1]],
                None,
                "default",
                f"only one flow may be default (also {defaults[0]!r} in {names[defaults[0]]})",
            )
        )
    return by_number, defaults[0] if defaults else None

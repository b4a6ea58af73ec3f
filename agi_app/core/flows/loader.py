"""Loading a flow set: parse YAML, validate models, check the graph.

Errors name the file, the node and the field, e.g.
``flows/mobile_10086.yaml: node 'main' field 'choices.3': unknown target 'nowhere'``.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agi_app.core.flows.errors import FlowError
from agi_app.core.flows.model import (
    LANGUAGES,
    Flow,
    Goto,
    Transaction,
    Transfer,
    conditions_of,
    prompts_of,
    targets,
)
from agi_app.core.flows.source import parse_yaml
from agi_app.core.flows.transactions import TransactionRegistry
from agi_app.core.flows.walks import graph_errors
from agi_app.core.speech.say import SPECS

__all__ = ["FlowError", "FlowSet", "Known", "check_flow", "load_flowset"]

# A flow file larger than this is refused unread: the biggest shipped flow is
# about 5 kB, and YAML parsing costs seconds a megabyte.
MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class FlowSet:
    """An immutable, validated set of flows; calls keep the one they started with."""

    flows: dict[str, Flow]
    by_number: dict[str, str]
    default: str | None
    version: str
    files: dict[str, str] = field(default_factory=dict)  # flow id -> file name

    def for_number(self, called: str) -> Flow | None:
        flow_id = self.by_number.get(called, self.default)
        return self.flows.get(flow_id) if flow_id else None


@dataclass
class Known:
    """What flows may refer to besides themselves."""

    queues: set[str] | None = None  # None: do not check
    transactions: TransactionRegistry | None = None
    languages: tuple[str, ...] = LANGUAGES
    grades: set[str] | None = None  # the configured grades (service.yaml); None: do not check


# The grade a condition sees for a caller with no customer record (DataBus.grade).
NO_CUSTOMER_GRADE = "unknown"
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
        raw = _read(path, labels[path], errors)
        if raw is None:
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


def _read(path: Path, file: str, errors: list[FlowError]) -> bytes | None:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        errors.append(FlowError(file, None, None, f"cannot read: {exc.strerror or exc}"))
        return None
    if len(raw) > MAX_FILE_BYTES:
        errors.append(
            FlowError(
                file,
                None,
                None,
                f"larger than {MAX_FILE_BYTES // 1_000_000} MB: split it into several flows"
                " (a goto node jumps from one to another)",
            )
        )
        return None
    return raw


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


def check_flow(flow: Flow, file: str, flows: dict[str, Flow], known: Known) -> list[FlowError]:
    """Target and reference checks of one flow (the walks over the graph are
    ``walks.graph_errors``: they span the set)."""
    errors: list[FlowError] = []
    if flow.start not in flow.nodes:
        errors.append(FlowError(file, None, "start", f"unknown start node {flow.start!r}"))
    for node_id, node in flow.nodes.items():
        for fld, target in targets(node):
            if target not in flow.nodes:
                errors.append(FlowError(file, node_id, fld, f"unknown target {target!r}"))
        errors += _check_refs(file, node_id, node, flows, known)
        errors += _check_grades(file, node_id, node, known)
        errors += _check_prompts(file, node_id, node, flow, known)
    return errors


def _check_refs(
    file: str, node_id: str, node: Any, flows: dict[str, Flow], known: Known
) -> list[FlowError]:
    errors: list[FlowError] = []
    if isinstance(node, Transaction) and known.transactions is not None:
        for msg in known.transactions.check(node.name, set(node.args)):
            errors.append(
                FlowError(file, node_id, "name" if "unknown trans" in msg else "args", msg)
            )
    if isinstance(node, Transfer) and known.queues is not None and node.queue not in known.queues:
        errors.append(
            FlowError(
                file,
                node_id,
                "queue",
                f"unknown queue {node.queue!r} (known: {', '.join(sorted(known.queues))})",
            )
        )
    if isinstance(node, Goto):
        target = flows.get(node.flow)
        if target is None:
            errors.append(FlowError(file, node_id, "flow", f"unknown flow {node.flow!r}"))
        elif node.node and node.node not in target.nodes:
            errors.append(
                FlowError(
                    file, node_id, "node", f"unknown node {node.node!r} in flow {node.flow!r}"
                )
            )
    pattern = getattr(node, "pattern", None)
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            errors.append(FlowError(file, node_id, "pattern", f"bad regular expression: {exc}"))
    return errors


def _check_grades(file: str, node_id: str, node: Any, known: Known) -> list[FlowError]:
    if known.grades is None:
        return []
    grades = [*known.grades, NO_CUSTOMER_GRADE]
    errors: list[FlowError] = []
    for fld, cond in conditions_of(node):
        for test in ("grade_in", "grade_not_in"):
            for grade in getattr(cond, test) or []:
                if grade not in grades:
                    errors.append(
                        FlowError(
                            file,
                            node_id,
                            f"{fld}.{test}",
                            f"unknown grade {grade!r} (known: {', '.join(sorted(grades))})",
                        )
                    )
    return errors


def _check_prompts(file: str, node_id: str, node: Any, flow: Flow, known: Known) -> list[FlowError]:
    errors: list[FlowError] = []
    for fld, prompt in prompts_of(node):
        texts = prompt if isinstance(prompt, dict) else {flow.language: prompt}
        for lang, text in texts.items():
            if lang not in known.languages:
                errors.append(
                    FlowError(file, node_id, fld, f"no voice for prompt language {lang!r}")
                )
            if not text.strip():
                errors.append(FlowError(file, node_id, fld, "empty prompt"))
            errors += [FlowError(file, node_id, fld, msg) for msg in _placeholder_errors(text)]
    return errors


def _placeholder_errors(text: str) -> list[str]:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [f"bad placeholder: {exc}"]
    out = []
    for _lit, name, spec, _conv in parts:
        if name is None:
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            out.append(f"bad placeholder name {{{name}}}")
        elif (spec or "") not in SPECS:
            out.append(f"unknown format {{{name}:{spec}}} (use {', '.join(s for s in SPECS if s)})")
    return out

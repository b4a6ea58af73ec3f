"""Checks of one flow's nodes: targets, references to what the app knows
(transactions, queues, grades, voices) and prompt templates."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

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
from agi_app.core.flows.transactions import TransactionRegistry
from agi_app.core.speech.say import SPECS


@dataclass
class Known:
    """What flows may refer to besides themselves."""

    queues: set[str] | None = None  # None: do not check
    transactions: TransactionRegistry | None = None
    languages: tuple[str, ...] = LANGUAGES
    grades: set[str] | None = None  # the configured grades (service.yaml); None: do not check


# The grade a condition sees for a caller with no customer record (DataBus.grade).
NO_CUSTOMER_GRADE = "unknown"


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

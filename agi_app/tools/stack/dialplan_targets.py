"""Where a snippet's lines lead: the contexts it includes, and those its
extension lines send calls to, as written (Goto, GotoIf, Gosub, GosubIf and
Dial(Local/exten@context)).

Asterisk checks none of them when it loads the dialplan: a Goto to a context
that exists nowhere loads, and every call that reaches it is hung up ("sent
to invalid extension"). Only the 3-part labels (``context,exten,priority``)
name a context; a context computed when the call runs (``${...}``, ``$[...]``)
is not known here and is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

JUMPS = ("goto", "gosub")  # Goto(context,exten,priority), Gosub(context,exten,priority(args))
BRANCHES = ("gotoif", "gosubif")  # GotoIf(condition?label:label)
OPENING, CLOSING = "([{", ")]}"


class Links(Protocol):
    """What a checked snippet (dialplan.Snippet) holds of where its lines lead."""

    path: Path
    warnings: list[str]
    includes: list[tuple[str, str, int]]  # (context, included, line)
    jumps: list[tuple[str, str, str, int]]  # (context, application, to, line)


def jump_targets(app: str) -> list[tuple[str, str]]:
    """(application, context) for every context that ``app``, the
    ``Name(arguments)`` after an extension line's priority, names literally."""
    name, paren, rest = app.strip().partition("(")
    if not paren or not rest.endswith(")"):
        return []
    name, args = name.strip(), rest[:-1]
    key = name.lower()
    if key in JUMPS:
        labels = [args]
    elif key in BRANCHES:
        condition = split(args, "?", 1)
        labels = split(condition[1], ":", 1) if len(condition) == 2 else []
    elif key == "dial":
        return [(name, c) for c in _local_contexts(split(args, ",", 1)[0])]
    else:
        return []
    return [(name, c) for c in map(_label_context, labels) if c is not None]


def split(text: str, sep: str, most: int = -1) -> list[str]:
    """``text`` cut at ``sep`` outside any (...), [...] or {...} (so outside
    ``$[...]`` and ``${...}`` too), at most ``most`` times (-1: every time)."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        depth += (ch in OPENING) - (ch in CLOSING)
        if ch == sep and depth <= 0 and len(parts) != most:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _label_context(label: str) -> str | None:
    """The context of a ``context,exten,priority`` label; None for a shorter
    label (this context) or a computed context."""
    parts = split(label, ",")
    return _literal(parts[0]) if len(parts) == 3 else None


def _local_contexts(devices: str) -> list[str]:
    """The contexts of ``Local/exten@context[/options]`` among Dial's devices."""
    found = []
    for device in devices.split("&"):
        tech, _, resource = device.strip().partition("/")
        if tech.lower() == "local" and "@" in resource:
            context = _literal(resource.split("@", 1)[1].split("/", 1)[0])
            found += [context] if context is not None else []
    return found


def _literal(context: str) -> str | None:
    context = context.strip()
    return None if not context or "${" in context or "$[" in context else context


def undefined_contexts(snip: Links, known: set[str]) -> None:
    """Warn of each include and jump of ``snip`` to a context not ``known``."""
    for ctx, included, n in snip.includes:
        if included not in known:
            snip.warnings.append(
                f"{snip.path.name}:{n}: [{ctx}] includes [{included}], which no snippet"
                " defines: Asterisk includes nothing"
            )
    for ctx, app, to, n in snip.jumps:
        if to not in known:
            snip.warnings.append(
                f"{snip.path.name}:{n}: [{ctx}] {app} sends calls to [{to}], which no snippet"
                " defines: Asterisk hangs them up ('sent to invalid extension') unless this"
                " site defines it elsewhere"
            )


def include_loops(snippets: Sequence[Links]) -> None:
    """A context that includes itself, directly or through others: a warning
    on the include that closes the loop. Asterisk loads it and, searching,
    skips a context it has already looked in, so the loop costs nothing; but
    it is seldom meant."""
    graph: dict[str, list[tuple[str, Links, int]]] = {}
    for snip in snippets:
        for ctx, included, n in snip.includes:
            graph.setdefault(ctx, []).append((included, snip, n))
    done: set[str] = set()
    for root in graph:
        if root in done:
            continue
        path, on_path = [root], {root: 0}
        pending = [iter(graph[root])]
        while pending:
            step = next(pending[-1], None)
            if step is None:
                done.add(path[-1])
                del on_path[path.pop()]
                pending.pop()
                continue
            included, snip, n = step
            if included in on_path:
                loop = " -> ".join([*path[on_path[included] :], included])
                snip.warnings.append(
                    f"{snip.path.name}:{n}: include loop: {loop} (Asterisk skips a context"
                    " already searched)"
                )
            elif included not in done:
                on_path[included] = len(path)
                path.append(included)
                pending.append(iter(graph.get(included, [])))

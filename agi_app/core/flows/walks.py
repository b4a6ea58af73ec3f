"""Graph walks over a flow set: what is reachable, and loops that never wait.

Every walk keeps its own stack: a flow of thousands of nodes in a row must
not meet Python's recursion limit.
"""

from __future__ import annotations

from typing import Any

from agi_app.core.flows.errors import FlowError
from agi_app.core.flows.model import INPUT_TYPES, Flow, Goto, targets

Key = tuple[str, str]  # (flow id, node id): a node anywhere in the set


def unreachable(flow: Flow, flows: dict[str, Flow]) -> list[str]:
    """Ids of the nodes of ``flow`` that neither its start nor any goto reaches."""
    entries = {flow.start}
    for other in flows.values():  # goto from any flow into this one is an entry too
        for node in other.nodes.values():
            if isinstance(node, Goto) and node.flow == flow.id:
                entries.add(node.node or flow.start)
    seen: set[str] = set()
    todo = [e for e in entries if e in flow.nodes]
    while todo:
        nid = todo.pop()
        if nid in seen:
            continue
        seen.add(nid)
        todo += [t for _, t in targets(flow.nodes[nid]) if t in flow.nodes]
    return [nid for nid in flow.nodes if nid not in seen]


def edges(flows: dict[str, Flow], flow_id: str, node: Any) -> list[Key]:
    """Where a node may send the call next, in its own flow or (goto) another one.

    Targets that do not exist are left out (they are errors of their own)."""
    out = [(flow_id, t) for _, t in targets(node)]
    if isinstance(node, Goto) and node.flow in flows:
        out.append((node.flow, node.node or flows[node.flow].start))
    return [k for k in dict.fromkeys(out) if k[1] in flows[k[0]].nodes]


def silent_loops(flows: dict[str, Flow], files: dict[str, str]) -> list[FlowError]:
    """Cycles, within a flow or across flows by goto, through nodes that never
    wait for the caller: a call in one would spin until the step limit."""
    graph: dict[Key, list[Key]] = {}
    for fid, flow in flows.items():
        for nid, node in flow.nodes.items():
            if node.type not in INPUT_TYPES:
                graph[(fid, nid)] = edges(flows, fid, node)
    for key, nexts in graph.items():
        graph[key] = [k for k in nexts if k in graph]
    done: set[Key] = set()
    errors: list[FlowError] = []
    for root in graph:
        if root not in done:
            errors += _cycles_from(root, graph, done, files)
    return errors


def _cycles_from(
    root: Key, graph: dict[Key, list[Key]], done: set[Key], files: dict[str, str]
) -> list[FlowError]:
    """Depth-first from ``root``; each edge back onto the current path is a loop."""
    errors: list[FlowError] = []
    path, on_path = [root], {root: 0}
    pending = [iter(graph[root])]
    while pending:
        nxt = next(pending[-1], None)
        if nxt is None:
            done.add(path[-1])
            del on_path[path.pop()]
            pending.pop()
        elif nxt in on_path:
            loop = [_name(k, nxt[0]) for k in [*path[on_path[nxt] :], nxt]]
            errors.append(
                FlowError(files[nxt[0]], nxt[1], None, "loop with no caller input: " + _show(loop))
            )
        elif nxt not in done:
            on_path[nxt] = len(path)
            path.append(nxt)
            pending.append(iter(graph[nxt]))
    return errors


def _show(loop: list[str]) -> str:
    if len(loop) > 12:  # a long loop by its ends
        loop = [*loop[:5], f"... {len(loop) - 10} more ...", *loop[-5:]]
    return " -> ".join(loop)


def _name(key: Key, home: str) -> str:
    return key[1] if key[0] == home else f"{key[0]}:{key[1]}"

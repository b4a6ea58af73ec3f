"""Graph walks over a flow set: what is reachable, loops that never wait for
the caller, and nodes from which the call can never end.

The graph spans the set: a goto node leads into the other flow, and with
return_to, that flow's return nodes lead back (``call_graph``). Every walk
keeps its own stack: a flow of thousands of nodes in a row must not meet
Python's recursion limit.
"""

from __future__ import annotations

from typing import Any

from agi_app.core.flows.errors import FlowError
from agi_app.core.flows.model import (
    INPUT_TYPES,
    Flow,
    Goto,
    Hangup,
    Play,
    Return,
    Transfer,
    targets,
)

Key = tuple[str, str]  # (flow id, node id): a node anywhere in the set


def graph_errors(flows: dict[str, Flow], files: dict[str, str]) -> list[FlowError]:
    """Unreachable nodes, loops with no caller input, nodes with no way to an end."""
    lost = [(fid, nid) for fid, flow in flows.items() for nid in unreachable(flow, flows)]
    errors = [FlowError(files[f], n, None, "unreachable from the start node") for f, n in lost]
    graph = call_graph(flows)
    loop_errors, looping = silent_loops(flows, files, graph)
    return errors + loop_errors + dead_ends(flows, files, graph, {*lost, *looping})


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


def call_graph(flows: dict[str, Flow]) -> dict[Key, list[Key]]:
    """Where each node may send the call next, across the set.

    A goto leads into the other flow. One with ``return_to`` does not lead
    there itself: the call goes through the other flow first (perhaps waiting
    for the caller on the way), and the return nodes it can reach there lead
    back to ``return_to``. Targets that do not exist are left out (they are
    errors of their own)."""
    graph = {
        (fid, nid): _steps(flows, fid, node)
        for fid, flow in flows.items()
        for nid, node in flow.nodes.items()
    }
    back: dict[Key, list[Key]] = {}
    returns: dict[Key, list[Key]] = {}  # by entry: many gotos enter a flow at its start
    for fid, flow in flows.items():
        for nid, node in flow.nodes.items():
            if not isinstance(node, Goto) or node.return_to not in flow.nodes:
                continue
            for entry in graph[(fid, nid)]:  # the other flow's node it enters, if it exists
                if entry not in returns:
                    returns[entry] = _returns_from(entry, graph, flows)
                for ret in returns[entry]:
                    back.setdefault(ret, []).append((fid, node.return_to))
    return {key: [*nexts, *dict.fromkeys(back.get(key, []))] for key, nexts in graph.items()}


def _steps(flows: dict[str, Flow], flow_id: str, node: Any) -> list[Key]:
    """A node's next nodes, a goto's return_to left out (see ``call_graph``)."""
    is_goto = isinstance(node, Goto)
    out = [(flow_id, t) for fld, t in targets(node) if not (is_goto and fld == "return_to")]
    if isinstance(node, Goto) and node.flow in flows:
        out.append((node.flow, node.node or flows[node.flow].start))
    return [k for k in dict.fromkeys(out) if k[1] in flows[k[0]].nodes]


def _returns_from(entry: Key, graph: dict[Key, list[Key]], flows: dict[str, Flow]) -> list[Key]:
    """The return nodes a call entering at ``entry`` can reach before it has
    returned: a goto with return_to on the way comes back to its return_to
    (its own returns are its own)."""
    found: list[Key] = []
    seen: set[Key] = set()
    todo = [entry]
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        node = flows[key[0]].nodes[key[1]]
        if isinstance(node, Return):
            found.append(key)
        elif isinstance(node, Goto) and node.return_to:
            todo += [(key[0], node.return_to)] if node.return_to in flows[key[0]].nodes else []
        else:
            todo += graph[key]
    return found


def silent_loops(
    flows: dict[str, Flow], files: dict[str, str], every: dict[Key, list[Key]]
) -> tuple[list[FlowError], set[Key]]:
    """Cycles, within a flow or across flows by goto, through nodes that never
    wait for the caller: a call in one would spin until the step limit.
    The errors, and the nodes on those cycles (``every``: the call graph)."""
    silent = {k: every[k] for k in every if flows[k[0]].nodes[k[1]].type not in INPUT_TYPES}
    graph = {key: [k for k in nexts if k in silent] for key, nexts in silent.items()}
    done: set[Key] = set()
    looping: set[Key] = set()
    errors: list[FlowError] = []
    for root in graph:
        if root not in done:
            errors += _cycles_from(root, graph, done, looping, files)
    return errors, looping


def _cycles_from(
    root: Key,
    graph: dict[Key, list[Key]],
    done: set[Key],
    looping: set[Key],
    files: dict[str, str],
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
            looping.update(path[on_path[nxt] :])
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


def dead_ends(
    flows: dict[str, Flow], files: dict[str, str], graph: dict[Key, list[Key]], skip: set[Key]
) -> list[FlowError]:
    """Nodes from which no hangup, transfer, return or last node can be reached
    (a menu whose every choice and failure lead back to itself): the call
    could only go round until the caller gives up. Reported where the call
    enters such a part (a start, or a node some node that can end leads to);
    ``skip``: not reported."""
    callers: dict[Key, list[Key]] = {}
    todo: list[Key] = []
    for key, nexts in graph.items():
        if _ends(flows[key[0]].nodes[key[1]]) or _points_nowhere(flows, *key):
            todo.append(key)
        for nxt in nexts:
            callers.setdefault(nxt, []).append(key)
    can_end: set[Key] = set()
    while todo:  # backwards from every end
        key = todo.pop()
        if key not in can_end:
            can_end.add(key)
            todo += callers.get(key, [])
    stuck = [
        (fid, nid)
        for fid, flow in flows.items()
        for nid in flow.nodes
        if (fid, nid) not in can_end and (fid, nid) not in skip
    ]
    return [
        FlowError(
            files[fid],
            nid,
            None,
            "the call can never end from here: no hangup, transfer or return is reachable",
        )
        for fid, nid in stuck
        if nid == flows[fid].start or any(c in can_end for c in callers.get((fid, nid), []))
    ]


def _ends(node: Any) -> bool:
    """The call leaves the flow here: hung up, to an agent, back to the caller
    flow, or a play node with no next."""
    return isinstance(node, Hangup | Transfer | Return) or (
        isinstance(node, Play) and not node.next
    )


def _points_nowhere(flows: dict[str, Flow], flow_id: str, node_id: str) -> bool:
    """A target that does not exist: an error of its own, not also a dead end."""
    node = flows[flow_id].nodes[node_id]
    if any(t not in flows[flow_id].nodes for _, t in targets(node)):
        return True
    if isinstance(node, Goto):
        other = flows.get(node.flow)
        return other is None or (node.node is not None and node.node not in other.nodes)
    return False

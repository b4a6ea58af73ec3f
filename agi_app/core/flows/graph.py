"""Flow diagrams: DOT text for graphviz, nodes labelled with type and prompt."""

from __future__ import annotations

from agi_app.core.flows import model as m

SHAPES = {
    "menu": "box3d",
    "dynamic_menu": "box3d",
    "input": "parallelogram",
    "transaction": "component",
    "branch": "diamond",
    "transfer": "house",
    "hangup": "doublecircle",
    "goto": "cds",
    "return": "cds",
    "play": "note",
    "set": "box",
}


def _q(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _short(prompt: m.Prompt | None, n: int = 28) -> str:
    if prompt is None:
        return ""
    text = prompt if isinstance(prompt, str) else next(iter(prompt.values()))
    return text if len(text) <= n else text[: n - 1] + "…"


def _condition(c: m.Condition) -> str:
    parts = [f"{k}={v}" for k, v in c.model_dump(exclude_none=True).items()]
    return ", ".join(parts)[:40] or "always"


def to_dot(flow: m.Flow) -> str:
    """The flow as a graphviz digraph."""
    lines = [
        f'digraph "{_q(flow.id)}" {{',
        "  rankdir=LR;",
        '  node [fontname="Noto Sans CJK SC,sans-serif", fontsize=10];',
        '  edge [fontname="sans-serif", fontsize=9];',
        f'  "__start" [shape=point]; "__start" -> "{_q(flow.start)}";',
    ]
    for node_id, node in flow.nodes.items():
        prompts = m.prompts_of(node)
        detail = _short(prompts[0][1]) if prompts else ""
        if isinstance(node, m.Transaction):
            detail = node.name
        if isinstance(node, m.Transfer):
            detail = f"queue {node.queue}"
        if isinstance(node, m.Hangup):
            detail = f"cause {node.cause}"
        label = f"{node_id}\\n[{node.type}]" + (f"\\n{_q(detail)}" if detail else "")
        lines.append(f'  "{_q(node_id)}" [shape={SHAPES.get(node.type, "box")}, label="{label}"];')
        for fld, target in m.targets(node):
            lines.append(f'  "{_q(node_id)}" -> "{_q(target)}" [label="{_q(_edge(node, fld))}"];')
        if isinstance(node, m.Goto):
            lines.append(
                f'  "{_q(node_id)}" -> "{_q(node.flow)}:{_q(node.node or "start")}" [style=dashed];'
            )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edge(node: object, fld: str) -> str:
    if fld.startswith("choices."):
        return "press " + fld.split(".", 1)[1]
    if fld.startswith("cases.") and isinstance(node, m.Branch):
        return _condition(node.cases[int(fld.split(".")[1])].when)
    if fld.startswith("items.") and isinstance(node, m.DynamicMenu):
        item = node.items[int(fld.split(".")[1])]
        return f"{item.kind}: {_short(item.label, 16)}"
    if fld.startswith("on_status."):
        return fld.split(".", 1)[1]
    return {
        "next": "",
        "on_failure": "failure",
        "on_success": "success",
        "default": "default",
        "return_to": "return",
    }.get(fld, fld)

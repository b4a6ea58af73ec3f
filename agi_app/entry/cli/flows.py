"""`agi-app flows check|graph|reload`.

``check`` and ``graph`` read the flows of the paths named (flow files or
folders of them: ``flows check PATH...``, ``flows graph --dir PATH``), by
default AGI_APP_FLOWS_DIR (flows/).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agi_app.entry.cli.admin_client import AppUnreachable, admin_urls, call_admin
from agi_app.entry.cli.errors import error
from agi_app.settings import get_settings

# What `flows graph` draws, by the output's suffix (none: svg).
GRAPH_FORMATS = ("svg", "png", "dot")
DEFAULT_PATHS = "default: AGI_APP_FLOWS_DIR, flows/"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("flows", help="check, draw and reload flows")
    fs = p.add_subparsers(dest="flows_cmd", required=True)
    c = fs.add_parser("check", help="validate flow files (default: flows/)")
    c.add_argument("paths", nargs="*", type=Path, help=f"flow files or folders ({DEFAULT_PATHS})")
    g = fs.add_parser("graph", help="draw a flow (svg, png or dot by the -o suffix)")
    g.add_argument("flow", help="flow id")
    g.add_argument(
        "-o", "--output", type=Path, required=True, help="FILE.svg, FILE.png or FILE.dot"
    )
    g.add_argument(
        "--dir",
        dest="paths",
        action="append",
        type=Path,
        metavar="PATH",
        help=f"the flows to draw from, a folder or file as `flows check` takes it;"
        f" repeatable ({DEFAULT_PATHS})",
    )
    fs.add_parser("reload", help="ask the running app (and through it every node) to reload")
    p.set_defaults(handler=_handle)


def known_for_check() -> Any:
    """What flows may refer to: registered transactions, configured queues and grades."""
    from agi_app.adapters.tts.voices import speakable_languages
    from agi_app.core.flows.loader import Known
    from agi_app.core.routing.config import grade_names, queue_names
    from agi_app.service.business import business_transactions

    s = get_settings()
    return Known(
        queues=queue_names(s.config_dir),
        transactions=business_transactions(),
        languages=speakable_languages(s.config_dir),
        grades=grade_names(s.config_dir),
    )


def _handle(args: argparse.Namespace) -> int:
    from agi_app.core.flows.loader import load_flowset

    s = get_settings()
    if args.flows_cmd == "reload":
        return asyncio.run(reload_remote(admin_urls(s), s.admin_token.get_secret_value()))
    if args.flows_cmd == "graph" and (problem := output_problem(args.output)):
        error(problem)
        return 1
    paths: list[Path] = args.paths or [s.flows_dir]
    if missing := [p for p in paths if not p.exists()]:
        for path in missing:
            error(f"{path}: no such flow file or folder")
        return 1
    try:
        flows, errors = load_flowset(paths, known_for_check())
    except OSError as exc:  # there, but not readable
        error(f"{exc.filename}: {exc.strerror}")
        return 1
    if flows is None:
        for err in errors:
            error(str(err))
        print(f"{len(errors)} error(s)", file=sys.stderr)
        return 1
    if args.flows_cmd == "check":
        nodes = sum(len(f.nodes) for f in flows.flows.values())
        print(f"ok: {len(flows.flows)} flows, {nodes} nodes, version {flows.version}")
        for fid, f in flows.flows.items():
            print(
                f"  {flows.files[fid]}: {fid} numbers={','.join(f.entry_numbers) or '-'}"
                f"{' (default)' if f.default else ''}"
            )
        return 0
    return _graph(flows, args.flow, args.output)


def output_problem(output: Path) -> str | None:
    """Why ``flows graph`` cannot write ``output``, before any work; None when it can."""
    fmt = _format(output)
    if fmt not in GRAPH_FORMATS:
        supported = ", ".join(f".{f}" for f in GRAPH_FORMATS)
        return f"{output}: cannot draw a .{fmt} file; the suffix says the format: {supported}"
    if not output.parent.is_dir():
        return f"{output}: no folder {output.parent}"
    return None


def _format(output: Path) -> str:
    return output.suffix.lstrip(".").lower() or "svg"


def _graph(flows: Any, flow_id: str, output: Path) -> int:
    from agi_app.core.flows.graph import to_dot

    flow = flows.flows.get(flow_id)
    if flow is None:
        error(f"no flow {flow_id!r} (have: {', '.join(flows.flows)})")
        return 1
    dot, fmt = to_dot(flow), _format(output)
    try:
        if fmt == "dot":
            output.write_text(dot)
        else:
            drawn = subprocess.run(
                ["dot", f"-T{fmt}", "-o", str(output)], input=dot.encode(), capture_output=True
            )
            if drawn.returncode:
                error(f"{output}: graphviz's dot failed: {drawn.stderr.decode().strip()}")
                return 1
    except OSError as exc:
        if exc.filename == "dot":  # the program, not our file
            error(
                "graphviz's `dot` is not installed (apt-get install graphviz); FILE.dot needs none"
            )
        else:
            error(f"{output}: {exc.strerror}")
        return 1
    print(f"wrote {output}")
    return 0


async def reload_remote(base_urls: Sequence[str], token: str) -> int:
    """POST /admin/reload to the first running app that answers; print what it says."""
    try:
        body = (await call_admin(base_urls, token, "POST", "/admin/reload")).body
    except AppUnreachable as exc:
        error(str(exc))
        return 1
    if body.get("ok"):
        print(f"reloaded: version {body.get('previous')} -> {body['version']}")
        if body.get("cluster") is True:
            print(f"every node reloads too (generation {body.get('generation')})")
        elif body.get("cluster") is False:
            print(f"warning: this node only: {body.get('cluster_error')}", file=sys.stderr)
        return 0
    error(f"refused; still running version {body.get('version')}:")
    for err in body.get("errors", []):
        print(f"  {err}", file=sys.stderr)
    return 1

"""`agi-app flows check|graph|reload`."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from agi_app.entry.cli.errors import error
from agi_app.settings import get_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("flows", help="check, draw and reload flows")
    fs = p.add_subparsers(dest="flows_cmd", required=True)
    c = fs.add_parser("check", help="validate flow files (default: flows/)")
    c.add_argument("paths", nargs="*", type=Path)
    g = fs.add_parser("graph", help="draw a flow (svg, png or dot by the -o suffix)")
    g.add_argument("flow", help="flow id")
    g.add_argument("-o", "--output", type=Path, required=True)
    fs.add_parser("reload", help="ask the running app (and through it every node) to reload")
    p.set_defaults(handler=_handle)


def known_for_check() -> Any:
    """What flows may refer to: registered transactions, configured queues."""
    from agi_app.adapters.tts.voices import speakable_languages
    from agi_app.core.flows.loader import Known
    from agi_app.core.routing.config import queue_names
    from agi_app.service.business import business_transactions

    s = get_settings()
    return Known(
        queues=queue_names(s.config_dir),
        transactions=business_transactions(),
        languages=speakable_languages(s.config_dir),
    )


def _handle(args: argparse.Namespace) -> int:
    from agi_app.core.flows.loader import load_flowset

    s = get_settings()
    if args.flows_cmd == "reload":
        return asyncio.run(
            reload_remote(
                f"http://{s.bind_address}:{s.admin_port}", s.admin_token.get_secret_value()
            )
        )
    flows, errors = load_flowset(getattr(args, "paths", None) or [s.flows_dir], known_for_check())
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


def _graph(flows: Any, flow_id: str, output: Path) -> int:
    from agi_app.core.flows.graph import to_dot

    flow = flows.flows.get(flow_id)
    if flow is None:
        error(f"no flow {flow_id!r} (have: {', '.join(flows.flows)})")
        return 1
    dot = to_dot(flow)
    fmt = output.suffix.lstrip(".") or "svg"
    if fmt == "dot":
        output.write_text(dot)
    else:
        subprocess.run(["dot", f"-T{fmt}", "-o", str(output)], input=dot.encode(), check=True)
    print(f"wrote {output}")
    return 0


async def reload_remote(base_url: str, token: str) -> int:
    """POST /admin/reload to the running app; print what it says."""
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{base_url}/admin/reload", headers={"Authorization": f"Bearer {token}"}
            ) as resp,
        ):
            body = await resp.json()
    except aiohttp.ClientError as exc:
        error(f"the app is not reachable at {base_url}: {exc}")
        return 1
    if body.get("ok"):
        print(f"reloaded: version {body.get('previous')} -> {body['version']}")
        if body.get("cluster") is True:
            print(f"every node reloads too (generation {body.get('generation')})")
        elif body.get("cluster") is False:
            print(f"warning: this node only: {body.get('cluster_error')}")
        return 0
    error(f"refused; still running version {body.get('version')}:")
    for err in body.get("errors", []):
        print(f"  {err}", file=sys.stderr)
    return 1

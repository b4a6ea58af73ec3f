"""`agi-app customers import|export|demo|samples`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from agi_app.adapters.postgres.customers import upsert
from agi_app.core.crm_csv import ImportRefused, ParsedCsv, parse_csv, to_csv
from agi_app.core.routing.config import load_queues, load_service
from agi_app.entry.cli.database import connect, probe
from agi_app.entry.cli.errors import error
from agi_app.settings import Settings, get_settings
from agi_app.tools.demo import SHOWCASE, ensure_demo_data


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("customers", help="CRM data: import, export, demo")
    cs = p.add_subparsers(dest="customers_cmd", required=True)
    i = cs.add_parser("import", help="upsert a CRM CSV export; report bad rows by line")
    i.add_argument("file", type=Path)
    e = cs.add_parser("export", help="write all customers as CSV")
    e.add_argument("-o", "--output", type=Path)
    d = cs.add_parser("demo", help="load the generated demo set if the table is empty")
    d.add_argument("--count", type=int, default=10_000)
    d.add_argument("--seed", type=int, default=7)
    cs.add_parser("samples", help="sample numbers to call, per grade")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    s = get_settings()
    cmd = args.customers_cmd
    if cmd == "demo":
        await probe(s)  # ensure_demo_data connects on its own
        added = await ensure_demo_data(s, args.count, args.seed)
        print(f"demo customers added: {added}" if added else "customers present; nothing added")
        return 0
    if cmd == "samples":
        for number, name, grade, tags, lang, status, agent in SHOWCASE:
            extra = ", ".join(
                x
                for x in (
                    status if status != "active" else "",
                    lang,
                    f"last agent {agent}" if agent else "",
                    *tags,
                )
                if x
            )
            print(f"{number.removeprefix('+86'):>12}  {grade:<9} {name}  ({extra})")
        return 0
    conn = await connect(s)
    try:
        if cmd == "export":
            rows = await conn.fetch("SELECT * FROM customers ORDER BY number")
            text = to_csv(rows)
            if args.output:
                args.output.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            return 0
        policy = load_service(
            s.config_dir / "service.yaml", load_queues(s.config_dir / "queues.yaml")
        )
        try:
            parsed = _read_import(args.file, set(policy.grades), s)
        except ImportRefused as exc:
            error(f"{args.file}: {exc}")
            return 2
        for warning in parsed.warnings:
            print(f"warning: {args.file}: {warning}", file=sys.stderr)
        await upsert(conn, parsed.good)
    finally:
        await conn.close()
    for b in parsed.bad:
        print(f"{args.file}:{b.line}: {b.reason}", file=sys.stderr)
    print(f"imported {len(parsed.good)} row(s); {len(parsed.bad)} bad row(s) refused")
    return 1 if parsed.bad else 0


def _read_import(path: Path, grades: set[str], s: Settings) -> ParsedCsv:
    """The file parsed, or ImportRefused before anything is written."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportRefused(f"cannot read it ({exc.strerror})") from exc
    if size > s.import_max_bytes:
        raise ImportRefused(
            f"{size:,} bytes is over the limit of {s.import_max_bytes:,}"
            " (AGI_APP_IMPORT_MAX_BYTES): nothing imported"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"not UTF-8 (byte {exc.start}): save the export as UTF-8") from exc
    parsed = parse_csv(text, grades, max_rows=s.import_max_rows)
    if not parsed.good and not parsed.bad:
        raise ImportRefused("no customer rows in it: nothing imported")
    return parsed

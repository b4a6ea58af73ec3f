"""`agi-app clock set|reset|show`: the QA business clock of the running app.

Three ways to act as if it were another time (all logged by the app):
  AGI_APP_BUSINESS_CLOCK=2026-11-30T10:00  (environment, at start)
  agi-app run --clock 2026-11-30T10:00     (command line, at start)
  agi-app clock set 2026-11-30T10:00       (at run time, over the admin endpoint)
A time without an offset is hotline time (settings.timezone); the year must be
2000-2199 (core.clock.check_business_time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agi_app.entry.cli.admin_client import AppUnreachable, admin_urls, call_admin
from agi_app.entry.cli.errors import error
from agi_app.settings import get_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "clock", help="QA business clock of the running app"
    )
    cs = p.add_subparsers(dest="clock_cmd", required=True)
    st = cs.add_parser("set", help="act as if it were this ISO time (time keeps running)")
    st.add_argument("when")
    cs.add_parser("reset", help="back to the real time")
    cs.add_parser("show", help="what time the app acts on")
    p.set_defaults(handler=_handle)


async def set_clock_remote(
    base_urls: Sequence[str], token: str, when: str | None
) -> dict[str, Any]:
    """POST /admin/clock to the first app that answers; ``when`` None resets."""
    answer = await call_admin(base_urls, token, "POST", "/admin/clock", {"now": when})
    body: dict[str, Any] = answer.body
    if answer.status != 200:
        raise ValueError(body.get("error", f"HTTP {answer.status}"))
    return body


def _handle(args: argparse.Namespace) -> int:
    s = get_settings()
    bases = admin_urls(s)
    token = s.admin_token.get_secret_value()
    try:
        if args.clock_cmd == "show":
            body = asyncio.run(_show(bases, token))
        else:
            when = args.when if args.clock_cmd == "set" else None
            if when is not None:
                datetime.fromisoformat(when)  # fail here, clearly, on a bad time
            body = asyncio.run(set_clock_remote(bases, token, when))
    except (ValueError, AppUnreachable) as exc:
        error(str(exc))
        return 1
    print(json.dumps(body, ensure_ascii=False))
    return 0


async def _show(base_urls: Sequence[str], token: str) -> dict[str, Any]:
    body = (await call_admin(base_urls, token, "GET", "/admin/stats")).body
    return {"now": body.get("business_clock"), "overridden": body.get("business_clock_overridden")}

"""What the control commands (`announce`, `shedding`, `ab`) share: the store,
the service, the lines and flows they may name, who is acting."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import Any

from agi_app.adapters.postgres.controls import NoDatabase, PgControlStore
from agi_app.core.controls import ControlError
from agi_app.core.flows.loader import load_flowset
from agi_app.core.shedding.rules import load_rules
from agi_app.core.speech.errors import TtsError
from agi_app.entry.cli.database import pool as database_pool
from agi_app.entry.cli.database import unreachable
from agi_app.entry.cli.errors import error
from agi_app.service.controls import ControlsService
from agi_app.settings import get_settings

Job = Callable[[ControlsService, set[str], set[str]], Awaitable[Any]]


def operator() -> str:
    """Who is acting, for the audit table."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def lines_and_flows() -> tuple[set[str], set[str]]:
    """The numbers flows enter by and the flow ids, from the flow files."""
    from agi_app.entry.cli.flows import known_for_check

    flows, errors = load_flowset([get_settings().flows_dir], known_for_check())
    if flows is None:
        raise ControlError(f"the flows do not pass `flows check` ({len(errors)} error(s))")
    return set(flows.by_number), set(flows.flows)


def run_job(job: Job, render: bool = False) -> int:
    """Run ``job`` against the database; print its result as JSON; 1 on refusal."""
    s = get_settings()

    async def go() -> Any:
        pool = await database_pool(s, min_size=1, max_size=1)
        cache = None
        if render:
            from agi_app.adapters.tts.factory import build_cache

            cache = build_cache(s)
        try:

            async def get_pool() -> Any:
                return pool

            levels = load_rules(s.config_dir / "shedding.yaml").levels
            svc = ControlsService(PgControlStore(get_pool), levels, cache)
            lines, flows = lines_and_flows()
            return await job(svc, lines, flows)
        finally:
            if cache is not None:
                cache.close()
            await pool.close()

    try:
        result = asyncio.run(go())
    except ControlError as exc:
        error(str(exc))
        return 2
    except (NoDatabase, ConnectionError) as exc:  # lost after connecting (the store's db_call)
        raise unreachable(s, exc) from exc
    except (TtsError, OSError) as exc:  # rendering the text: no voice, an unwritable folder
        error(f"the announcement's text could not be rendered: {exc}")
        return 1
    print(json.dumps(result, ensure_ascii=False, default=str, indent=2))
    return 0

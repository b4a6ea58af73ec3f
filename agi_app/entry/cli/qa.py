"""`agi-app qa call`: place a scripted SIPp call and check the journey it left.

    agi-app qa call --from 13800000005 --to 10086 --keys "wait 6; 1; wait 6; 9" \\
        --expect "entry > welcome > main[1] > balance > say_balance > after_service[9] > bye" \\
        --expect-outcome completed --cause 16

With ``--heard`` a recording SIP user agent (pjsua2) places the call instead
of SIPp, and each prompt the journey names must be found in what it heard
(``agi_app.tools.qa.heard``); a prompt not heard is a mismatch.

Exit codes: 0 the call and its journey are as expected, 1 a mismatch (printed),
2 the call itself failed (SIPp; its reason, then its journey if one appears),
3 no journey appeared.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from agi_app.adapters.postgres.journey_queries import node_path, wait_journey
from agi_app.entry.cli import qa_run
from agi_app.entry.cli.database import connection
from agi_app.entry.cli.errors import DatabaseUnreachable, error
from agi_app.settings import get_settings
from agi_app.tools.qa import heard_call
from agi_app.tools.qa.callerid import CallerIdError, dialled, recorded_caller, sip_user
from agi_app.tools.qa.ports import PortError
from agi_app.tools.qa.recorder import RecordedCall
from agi_app.tools.qa.runner import SippResult, run_callers
from agi_app.tools.qa.scenario import KeyScriptError, build_caller, keys_unsent, parse_keys
from agi_app.tools.qa.sipp_errors import failure_reason

FAILED_CALL_JOURNEY_S = 5  # a failed call's journey, if any, has usually ended by then


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("qa", help="QA: scripted SIPp calls")
    qs = p.add_subparsers(dest="qa_cmd", required=True)
    c = qs.add_parser("call", help="place one call with a key script; print its journey")
    c.add_argument("--from", dest="caller", required=True, help="calling number")
    c.add_argument("--to", dest="called", required=True, help="called number (e.g. 10086)")
    c.add_argument("--keys", default="", help='e.g. "wait 2; 1; wait 1; 0007#"')
    c.add_argument("--cause", type=int, help="expected Q.850 cause in the BYE")
    c.add_argument("--expect", help='expected node path, "a > b[1] > c"')
    c.add_argument("--expect-outcome", help="expected outcome (completed, transferred, ...)")
    c.add_argument("--timeout", type=float, default=120)
    c.add_argument("--json", action="store_true")
    c.add_argument(
        "-v", "--verbose", action="store_true", help="on a failed call, SIPp's own screen too"
    )
    c.add_argument("--port", type=int, help="SIPp's SIP port (default: a free one)")
    c.add_argument("--media-port", type=int, help="SIPp's media port (uses it and +2)")
    c.add_argument(
        "--heard",
        action="store_true",
        help="call with a recording SIP user agent (pjsua2) and check that each prompt"
        " the journey names was heard (exit 1 if one was not)",
    )
    p.set_defaults(handler=lambda a: asyncio.run(run_qa_call(a)))
    qa_run.register(qs)


async def _journey(caller: str, since: dt.datetime, timeout: float) -> Any:
    async with connection(get_settings()) as conn:
        return await wait_journey(conn, caller, since, timeout)


async def run_qa_call(args: argparse.Namespace) -> int:
    try:
        steps = parse_keys(args.keys)
        called, user = dialled(args.called), sip_user(args.caller)
    except (KeyScriptError, CallerIdError) as exc:
        error(str(exc))
        return 1
    if user != args.caller:
        print(f"note: --from sent percent-encoded as {user} (Asterisk decodes it)")
    since = dt.datetime.now(dt.UTC)
    result: SippResult | RecordedCall
    if args.heard:
        result = await heard_call.place(get_settings(), steps, user, called, args.timeout)
    else:
        with tempfile.TemporaryDirectory(prefix="agi-app-qa-") as tmp:
            scenario = build_caller(steps, Path(tmp), expect_cause=args.cause)
            try:
                result = await run_callers(
                    scenario,
                    service=called,
                    callers=[user],
                    calls=1,
                    limit=1,
                    timeout_s=args.timeout,
                    sip_port=args.port,
                    media_port=args.media_port,
                )
            except PortError as exc:
                error(str(exc))
                return 2
    print(f"call: {result.summary()}")
    if result.successful != 1:
        await _failed_call(args, result, since)
        return 2
    if isinstance(result, SippResult) and (unsent := keys_unsent(result.log)):
        print(f"note: {unsent}")
    try:
        journey = await _journey(recorded_caller(args.caller), since, 15)
    except TimeoutError:
        error("no journey was recorded for this call")
        return 3
    path = _print_journey(journey, args.json)
    failures = []
    if isinstance(result, RecordedCall):
        if args.cause is not None and result.cause != args.cause:
            failures.append(f"BYE cause {result.cause}, expected {args.cause}")
        heard = heard_call.report(get_settings(), result, journey["steps"])
        print(heard.table())
        if not heard.ok:
            failures.append("a prompt the journey names was not heard (see the table)")
    if args.expect and " ".join(args.expect.split()) != path:
        failures.append(f"path differs:\n  expected {args.expect}\n  got      {path}")
    if args.expect_outcome and args.expect_outcome != journey["outcome"]:
        failures.append(f"outcome {journey['outcome']!r}, expected {args.expect_outcome!r}")
    for f in failures:
        print(f"MISMATCH: {f}")
    if failures and journey["shedding_level"]:
        print(
            f"note: load shedding was at level {journey['shedding_level']}"
            f" ({journey['shedding_rule']}) for this call, which changes the path on peak"
            " days and under queue load. For the quiet-day path set the business clock,"
            " e.g. `agi-app clock set 2026-12-10T10:00`, and `agi-app clock reset` after."
        )
    return 1 if failures else 0


def _print_journey(journey: dict[str, Any], as_json: bool) -> str:
    """Print the journey (and its JSON when asked); return its node path."""
    path = node_path(journey["steps"])
    if as_json:
        print(json.dumps(journey, default=str, ensure_ascii=False, indent=1))
    print(
        f"journey: {journey['flow']} v{journey['flow_version']} outcome={journey['outcome']}"
        f" cause={journey['hangup_cause']} grade={journey['grade']} "
        f"shedding={journey['shedding_level']}\n  {path}"
    )
    return path


async def _failed_call(
    args: argparse.Namespace, result: SippResult | RecordedCall, since: dt.datetime
) -> None:
    """Why the call failed, then its journey if one ends soon (the path and the
    cause the hotline saw). SIPp's raw screen only with -v or when no reason is known."""
    if isinstance(result, SippResult):
        reason = failure_reason(result.errors)
    else:
        reason = result.error or None
    print(f"call failed: {reason or 'no reason found; the caller output follows'}")
    if args.verbose or reason is None:
        print(result.output[-1500:])
    try:
        journey = await _journey(recorded_caller(args.caller), since, FAILED_CALL_JOURNEY_S)
    except TimeoutError:
        print("note: no journey was recorded for this call")
        return
    except DatabaseUnreachable as exc:  # the call's failure stays the news (exit 2)
        print(f"note: no journey looked up: {exc}")
        return
    _print_journey(journey, args.json)

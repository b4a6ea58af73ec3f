"""Nodes that decide without the caller: transaction, branch, goto, return, set."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agi_app.core.flows import model as m
from agi_app.core.flows.conditions import holds
from agi_app.core.flows.transactions import TransactionError, TxContext
from agi_app.core.speech.say import TemplateError, render_template
from agi_app.service.flows.context import Ctx
from agi_app.service.flows.nodes_io import SELF_SERVICE_DONE

log = logging.getLogger(__name__)
MAX_GOTO_DEPTH = 8


def _fill(value: Any, ctx: Ctx) -> Any:
    if isinstance(value, str) and "{" in value:
        return render_template(value, ctx.bus.values(), "raw")
    return value


async def transaction(node: m.Transaction, node_id: str, ctx: Ctx) -> str | None:
    tx = TxContext(
        ctx.deps.get_pool,
        ctx.call.call_id,
        ctx.bus.caller_e164,
        ctx.bus.language,
        ctx.deps.priority,
    )
    try:
        args = {k: _fill(v, ctx) for k, v in node.args.items()}
        async with asyncio.timeout(node.timeout_s):
            result = await ctx.deps.transactions.call(node.name, args, tx)
    except (TransactionError, TemplateError, TimeoutError, OSError) as exc:
        ctx.step(node_id, "transaction", name=node.name, ok=False, error=str(exc)[:200])
        return node.on_failure
    except Exception as exc:  # a broken back end must not drop the call
        log.exception("call=%s transaction %s failed", ctx.call.call_id, node.name)
        ctx.step(node_id, "transaction", name=node.name, ok=False, error=type(exc).__name__)
        return node.on_failure
    ctx.bus.results[node.store_as or node.name] = result
    ctx.bus.vars[SELF_SERVICE_DONE] = True
    ctx.step(node_id, "transaction", name=node.name, ok=True)
    return node.on_success


async def branch(node: m.Branch, node_id: str, ctx: Ctx) -> str | None:
    now = ctx.deps.clock.now()
    for i, case in enumerate(node.cases):
        if holds(case.when, ctx.bus, now):
            ctx.step(node_id, "branch", case=i)
            return case.goto
    ctx.step(node_id, "branch", case="default")
    return node.default


async def goto(node: m.Goto, node_id: str, ctx: Ctx) -> str | None:
    if node.return_to:
        if len(ctx.stack) >= MAX_GOTO_DEPTH:
            ctx.step(node_id, "goto", result="too deep")
            ctx.outcome, ctx.cause = "failed", 41
            await ctx.call.hangup(41)
            return None
        ctx.stack.append((ctx.flow.id, node.return_to))
    ctx.flow = ctx.flows.flows[node.flow]
    ctx.bus.flow = ctx.flow.id
    ctx.step(node_id, "goto", flow=node.flow)
    return node.node or ctx.flow.start


async def ret(node: m.Return, node_id: str, ctx: Ctx) -> str | None:
    ctx.step(node_id, "return")
    if not ctx.stack:
        return None
    flow_id, back = ctx.stack.pop()
    ctx.flow = ctx.flows.flows[flow_id]
    ctx.bus.flow = flow_id
    return back


async def set_values(node: m.Set, node_id: str, ctx: Ctx) -> str | None:
    for key, value in node.values.items():
        if key == "language":  # the caller chose a language: prompts follow it
            ctx.bus.language = str(value)
        else:
            ctx.bus.vars[key] = _fill(value, ctx)
    ctx.step(node_id, "set", keys=sorted(node.values))
    return node.next

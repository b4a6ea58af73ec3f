"""Nodes that talk to the caller: play, menu, input, dynamic_menu, transfer, hangup."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from agi_app.core.callcontrol import CallHangup, QueueResult
from agi_app.core.flows import model as m
from agi_app.core.flows.conditions import holds
from agi_app.service.flows.context import Ctx
from agi_app.service.flows.prompts import say, step_and_say, text_for

CHOICE_TEXT = {"zh": "按{n}，{label}。", "en": "Press {n} for {label}. "}
SELF_SERVICE_DONE = "self_service_attempted"


async def play(node: m.Play, node_id: str, ctx: Ctx) -> str | None:
    await step_and_say(ctx, node_id, "play", *node.prompts, barge_in=node.barge_in)
    return node.next


MAX_REPEATS = 5  # times * repeats one menu in one visit


async def _choose(
    ctx: Ctx,
    node_id: str,
    kind: str,
    prompts: list[m.Prompt | None],
    choices: dict[str, str],
    timeout_s: float,
    max_retries: int,
    invalid: m.Prompt | None,
    timeout_prompt: m.Prompt | None,
    on_failure: str,
) -> str:
    """The menu loop shared by menu and dynamic_menu; retries counted per menu.
    ``*`` repeats the menu MAX_REPEATS times; past that it is an invalid key (a
    caller, or a DTMF flood, cannot hold the call in the menu for ever)."""
    retries = invalids = timeouts = repeats = 0
    while True:
        await say(ctx, *prompts, barge_in=True)
        digit = await ctx.call.digits.next(timeout_s)
        if digit == "*" and repeats < MAX_REPEATS and "*" not in choices:
            repeats += 1
            continue  # repeat the menu, not a failure
        if digit is not None and digit in choices:
            ctx.step(node_id, kind, digit, retries=retries, invalid=invalids, timeouts=timeouts)
            return choices[digit]
        retries += 1
        if digit is None:
            timeouts += 1
        else:
            invalids += 1
        if retries > max_retries:
            ctx.step(
                node_id,
                kind,
                digit or "",
                retries=retries,
                invalid=invalids,
                timeouts=timeouts,
                result="failed",
            )
            return on_failure
        await say(ctx, timeout_prompt if digit is None else invalid, barge_in=True)


async def menu(node: m.Menu, node_id: str, ctx: Ctx) -> str | None:
    return await _choose(
        ctx,
        node_id,
        "menu",
        [node.prompt],
        node.choices,
        node.timeout_s,
        node.max_retries,
        node.invalid_prompt,
        node.timeout_prompt,
        node.on_failure,
    )


def arrange(items: list[m.MenuItem], ctx: Ctx) -> list[m.MenuItem]:
    """Filter and order dynamic menu items by condition and shedding actions."""
    now = ctx.deps.clock.now()
    shown = [it for it in items if it.when is None or holds(it.when, ctx.bus, now)]
    actions = ctx.bus.shedding_actions
    if "no_cross_sell" in actions:
        shown = [it for it in shown if it.kind != "cross_sell"]
    if "reorder_menus" in actions:
        shown.sort(key=lambda it: it.kind != "self_service")  # stable: self-service first
        if not ctx.bus.vars.get(SELF_SERVICE_DONE):
            shown = [it for it in shown if it.kind != "agent"] or shown
    return shown[:9]


async def dynamic_menu(node: m.DynamicMenu, node_id: str, ctx: Ctx) -> str | None:
    items = arrange(list(node.items), ctx)
    lang = ctx.bus.language if ctx.bus.language in CHOICE_TEXT else ctx.flow.language
    prompts: list[m.Prompt | None] = [node.intro]
    for n, item in enumerate(items, 1):
        label, _ = text_for(item.label, lang, ctx.flow.language)
        prompts.append({lang: CHOICE_TEXT[lang].format(n=n, label=label)})
    choices = {str(n): item.target for n, item in enumerate(items, 1)}
    ctx.bus.vars["menu_order"] = [it.target for it in items]
    return await _choose(
        ctx,
        node_id,
        "dynamic_menu",
        prompts,
        choices,
        node.timeout_s,
        node.max_retries,
        node.invalid_prompt,
        None,
        node.on_failure,
    )


async def _collect(ctx: Ctx, node: m.Input) -> str:
    digits = ""
    first = await ctx.call.digits.next(node.first_timeout_s)
    nxt = first
    while nxt is not None:
        if node.terminator and nxt == node.terminator:
            break
        digits += nxt
        if len(digits) >= node.max_length:
            await _swallow_terminator(ctx, node)
            break
        nxt = await ctx.call.digits.next(node.inter_digit_timeout_s)
    return digits


async def _swallow_terminator(ctx: Ctx, node: m.Input) -> None:
    """Callers press # after a full-length entry too; it must not reach the next menu."""
    if not node.terminator:
        return
    after = await ctx.call.digits.next(min(1.0, node.inter_digit_timeout_s))
    if after is not None and after != node.terminator:
        ctx.call.digits.unread(after)


async def collect(node: m.Input, node_id: str, ctx: Ctx) -> str | None:
    for attempt in range(node.max_retries + 1):
        await say(ctx, node.prompt, barge_in=True)
        digits = await _collect(ctx, node)
        ok = node.min_length <= len(digits) <= node.max_length and (
            node.pattern is None or re.fullmatch(node.pattern, digits) is not None
        )
        if ok:
            ctx.bus.inputs[node.store_as] = digits
            ctx.step(node_id, "input", digits, attempts=attempt + 1)
            return node.next
        if attempt < node.max_retries:
            await say(ctx, node.invalid_prompt, barge_in=True)
    ctx.step(node_id, "input", "", attempts=node.max_retries + 1, result="failed")
    return node.on_failure


async def transfer(node: m.Transfer, node_id: str, ctx: Ctx) -> str | None:
    queue, priority = ctx.deps.router(ctx.bus, node.queue)
    if node.priority is not None:
        priority = node.priority
    ctx.facts.update(queue=queue)
    await step_and_say(
        ctx, node_id, "transfer", node.announce, barge_in=False, queue=queue, priority=priority
    )
    try:
        result = await ctx.call.transfer_to_queue(queue, priority, node.timeout_s)
    except CallHangup:
        ctx.facts.setdefault("queue_status", "ABANDON")
        raise
    ctx.facts.update(queue_status=result.status, agent=result.agent)
    if result.status == "ANSWERED":
        ctx.reached_agent = True
        ctx.outcome = "transferred"
    now = ctx.deps.wall()
    times = _times(now, result)
    ctx.step(node_id, "queue_result", at=now, status=result.status, agent=result.agent, **times)
    return node.on_status.get(result.status) or node.on_status.get("default")


def _times(now: datetime, result: QueueResult) -> dict[str, Any]:
    """The queue result's timing for the journey: seconds in the queue and, once an
    agent answered, the talk time and the moment of the answer (the result's time
    ``now`` less the talk time, which the adapter measured on a monotonic clock)."""
    out: dict[str, Any] = {}
    if result.wait_s is not None:
        out["wait_s"] = result.wait_s
    if result.talk_s is not None and result.status == "ANSWERED":
        out["talk_s"] = result.talk_s
        out["answered_at"] = (now - timedelta(seconds=result.talk_s)).isoformat()
    return out


async def hangup(node: m.Hangup, node_id: str, ctx: Ctx) -> str | None:
    await step_and_say(ctx, node_id, "hangup", node.prompt, barge_in=False, cause=node.cause)
    if not ctx.reached_agent:
        ctx.outcome = node.outcome
    ctx.cause = node.cause
    await ctx.call.hangup(node.cause)
    return None

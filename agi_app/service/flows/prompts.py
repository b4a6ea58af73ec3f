"""From a flow's prompt to sounds Asterisk plays."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agi_app.core.flows.model import Prompt
from agi_app.core.speech.protocol import CACHED
from agi_app.core.speech.say import render_template

if TYPE_CHECKING:
    from agi_app.service.flows.context import Ctx


def text_for(prompt: Prompt, language: str, flow_language: str) -> tuple[str, str]:
    """(text, language) of a prompt for the caller's language."""
    if isinstance(prompt, str):
        return prompt, flow_language
    if language in prompt:
        return prompt[language], language
    first = next(iter(prompt))
    return prompt[first], first


async def media(ctx: Ctx, *prompts: Prompt | None) -> list[str]:
    """Render (or find cached) each prompt; the sound names to play."""
    out: list[str] = []
    values = None
    for prompt in prompts:
        if prompt is None:
            continue
        text, lang = text_for(prompt, ctx.bus.language, ctx.flow.language)
        if "{" in text:
            values = values if values is not None else ctx.bus.values()
            text = render_template(text, values, lang)
        made = await ctx.deps.renderer.prompt(text, lang)
        if made.source != CACHED:  # rendered now, by which engine, or a static stand-in
            ctx.rendered[made.sound] = made.source
        out.append(made.sound)
    return out


async def say(ctx: Ctx, *prompts: Prompt | None, barge_in: bool = True) -> None:
    """Play the prompts; the node's next journey step records their sounds."""
    sounds = await media(ctx, *prompts)
    ctx.said.extend((s, barge_in) for s in sounds)
    if sounds:
        await ctx.call.play(sounds, barge_in=barge_in)


async def step_and_say(
    ctx: Ctx, node_id: str, node_type: str, *prompts: Prompt | None, barge_in: bool, **detail: Any
) -> None:
    """A step recorded before its prompts play (so a hangup mid-prompt keeps
    it), with the sounds it is about to play."""
    sounds = await media(ctx, *prompts)
    ctx.said.extend((s, barge_in) for s in sounds)
    ctx.step(node_id, node_type, **detail)
    if sounds:
        await ctx.call.play(sounds, barge_in=barge_in)

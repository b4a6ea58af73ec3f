"""FastAGI routes: the whole flow over AGI, or only the routing decision."""

from __future__ import annotations

from agi_app.adapters.fastagi.call import AgiCall
from agi_app.adapters.fastagi.server import AgiRequest, Handler
from agi_app.service.call import CallServices, serve_call


def build_routes(services: CallServices, decide_route: Handler) -> dict[str, Handler]:
    """``flow``: the same flows as ARI; ``route``: variables for the site's dialplan."""

    async def flow(req: AgiRequest) -> None:
        result = await serve_call(AgiCall(req), "agi", services)
        if result.outcome == "failed":
            req.status = "FAILURE"

    async def ping(req: AgiRequest) -> None:
        await req.channel.set_variable("AGI_APP_PONG", "1")

    return {"flow": flow, "route": decide_route, "ping": ping}

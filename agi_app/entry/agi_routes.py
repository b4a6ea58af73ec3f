"""FastAGI routes: the whole flow over AGI, or only the routing decision."""

from __future__ import annotations

from agi_app.adapters.fastagi.call import AgiCall
from agi_app.adapters.fastagi.server import AgiRequest, Handler
from agi_app.service.call import CallServices, serve_call
from agi_app.service.route_only import RouteOnly


def build_routes(services: CallServices, route_only: RouteOnly) -> dict[str, Handler]:
    """``flow``: the same flows as ARI; ``route``: variables for the site's dialplan."""

    async def flow(req: AgiRequest) -> None:
        result = await serve_call(AgiCall(req), "agi", services)
        if result.outcome == "failed":
            req.status = "FAILURE"

    async def route(req: AgiRequest) -> None:
        await route_only(AgiCall(req))

    async def ping(req: AgiRequest) -> None:
        await req.channel.set_variable("AGI_APP_PONG", "1")

    return {"flow": flow, "route": route, "ping": ping}

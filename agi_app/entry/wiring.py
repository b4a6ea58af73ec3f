"""Assembling the running hotline from its parts (used by `agi-app run`).

Everything is loaded and validated here, before the first call: flows, the
service policy, queues, shedding rules. A bad file stops the start with a
message naming it.
"""

from __future__ import annotations

import logging

import agi_app.service.business  # noqa: F401  (registers the business transactions)
from agi_app.adapters.fastagi.call import AgiCall
from agi_app.adapters.fastagi.server import AgiRequest, AgiServer
from agi_app.adapters.postgres.customers import PgCustomerStore, identify
from agi_app.adapters.tts.factory import build_cache
from agi_app.core.bus import DataBus
from agi_app.core.callcontrol import CallControl
from agi_app.core.flows.loader import Known, speakable_languages
from agi_app.core.flows.transactions import REGISTRY
from agi_app.core.routing.config import load_queues, load_service
from agi_app.core.routing.route import route
from agi_app.entry.agi_routes import build_routes
from agi_app.entry.runtime import Runtime
from agi_app.service.call import CallServices, FlowOutcome, Identity
from agi_app.service.flows.engine import EngineDeps, run_flow
from agi_app.service.flows.registry import FlowRegistry
from agi_app.service.shedding import build_shedding
from agi_app.settings import Settings

log = logging.getLogger(__name__)


def build_runtime(s: Settings) -> Runtime:
    """Validate configuration and assemble the runtime; raises on bad files."""
    runtime = Runtime(s)
    queues = load_queues(s.config_dir / "queues.yaml")
    policy = load_service(s.config_dir / "service.yaml", queues)
    registry = FlowRegistry(
        s.flows_dir,
        Known(
            queues=set(queues.queues),
            transactions=REGISTRY,
            languages=speakable_languages(s.config_dir),
        ),
    )
    cache = build_cache(s)
    store = PgCustomerStore(runtime.db)
    shedding = build_shedding(s, runtime, policy)
    deadline = s.lookup_deadline_ms / 1000

    async def who(raw_caller: str) -> Identity:
        return await identify(store, raw_caller, deadline)

    async def walk(call: CallControl, bus: DataBus) -> FlowOutcome:
        now = runtime.clock.now()
        entry = route(bus.customer, now, policy, queues)
        bus.vars.update(
            skip_first_menu=entry.skip_first_menu,
            route_reason=entry.reason,
            offer_dedicated_agent=entry.offer_dedicated_agent,
        )
        if entry.language and bus.customer is None:
            bus.language = entry.language

        def router(bus: DataBus, requested_queue: str) -> tuple[str, int]:
            r = route(bus.customer, runtime.clock.now(), policy, queues, requested_queue)
            return r.queue, r.priority

        deps = EngineDeps(
            renderer=cache,
            journey=runtime.journey,
            clock=runtime.clock,
            transactions=REGISTRY,
            get_pool=runtime.db.pool,
            router=router,
            priority=entry.priority,
        )
        # The flow set is taken once: a reload never changes a call in progress.
        return await run_flow(call, bus, registry.current, deps)

    async def reload() -> dict[str, object]:
        return registry.reload()

    async def decide_route(req: AgiRequest) -> None:
        """Route-only FastAGI: the same lookup and rules, as channel variables."""
        call = AgiCall(req)
        ident = await who(call.caller)
        bus = DataBus(
            call.call_id, call.caller, call.called, ident.e164, ident.customer, ident.status
        )
        entry = route(ident.customer, runtime.clock.now(), policy, queues)
        shed = shedding.decide(bus)
        flow = registry.current.for_number(call.called)
        for name, value in (
            ("AGI_APP_GRADE", entry.grade),
            ("AGI_APP_QUEUE", entry.queue),
            ("QUEUE_PRIO", str(entry.priority)),
            ("AGI_APP_SHEDDING_LEVEL", str(shed.level)),
            ("AGI_APP_LOOKUP", ident.status),
            ("AGI_APP_FLOW", flow.id if flow else ""),
        ):
            await req.channel.set_variable(name, value)

    runtime.reload = reload
    runtime.on_close.append(cache.close)
    services = CallServices(
        clock=runtime.clock,
        journey=runtime.journey,
        identify=who,
        decide=shedding.decide,
        run_flow=walk,
    )
    runtime.bind(services)
    runtime.agi = AgiServer(build_routes(services, decide_route), s.agi_host, s.agi_port)
    return runtime

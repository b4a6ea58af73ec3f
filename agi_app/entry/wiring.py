"""Assembling the running hotline from its parts (used by `agi-app run`).

Everything is built here, before the first call, and validated: flows, the
service policy, queues, shedding rules. A bad file stops the start with a
message naming it. Wiring builds and hands in; it holds no business logic
(that is in agi_app.service).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agi_app.adapters.ami.client import Ami
from agi_app.adapters.ami.live_load import LoadMonitor
from agi_app.adapters.ari.app import Admission, AriApplication
from agi_app.adapters.ari.call import AriCall
from agi_app.adapters.ari.dialer import AriDialer, side_event
from agi_app.adapters.ari.rest import AriRest
from agi_app.adapters.dialplan.static_record import RECORD, StaticRecordImporter
from agi_app.adapters.fastagi.server import AgiServer
from agi_app.adapters.postgres.controls import PgControlStore
from agi_app.adapters.postgres.customers import PgCustomerStore
from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.adapters.postgres.partitions import PartitionKeeper
from agi_app.adapters.postgres.pool import LOOKUP_SESSION, Database
from agi_app.adapters.postgres.priority import realtime_sessions
from agi_app.adapters.postgres.risk import PgCustomerWithHistory, PgRiskHistory
from agi_app.adapters.postgres.spool import Spool
from agi_app.adapters.prometheus.exporter import HotlineState, PrometheusExporter
from agi_app.adapters.tts.factory import build_cache, call_renderer
from agi_app.adapters.tts.voices import speakable_languages
from agi_app.core.bus import DataBus
from agi_app.core.clock import BusinessClock
from agi_app.core.decisions import Identity
from agi_app.core.flows.loader import Known
from agi_app.core.journey import TeeJourney
from agi_app.core.risk import load_risk
from agi_app.core.routing.config import load_queues, load_service
from agi_app.core.shedding.load import LoadTracker
from agi_app.core.shedding.rules import load_rules
from agi_app.entry.admin import build_admin
from agi_app.entry.agi_routes import build_routes
from agi_app.entry.cluster import NodeFigures, build_cluster
from agi_app.entry.components import AdminServer, Resources
from agi_app.entry.console import ConsoleDeps, add_console
from agi_app.entry.runtime import Runtime, asyncio_tasks, loop_lag_monitor
from agi_app.entry.supervisor import Supervisor
from agi_app.service.business import business_transactions
from agi_app.service.call import CallServices, serve_call
from agi_app.service.callbacks import CallbackWorker
from agi_app.service.controls import ControlsService
from agi_app.service.flows.engine import EngineDeps
from agi_app.service.flows.registry import FlowRegistry
from agi_app.service.identify import RiskCheck, identify
from agi_app.service.live import LiveCalls
from agi_app.service.route_only import RouteOnly
from agi_app.service.shedding import SheddingService
from agi_app.service.walk import FlowWalker
from agi_app.settings import Settings

log = logging.getLogger(__name__)


def _standard_caller() -> DataBus:
    """An unknown caller's data bus: what the shedding gauge asks about."""
    return DataBus("", "", "", None, None, "unknown")


def build_runtime(s: Settings) -> Runtime:
    """Validate configuration and assemble the runtime; raises on bad files."""
    clock = BusinessClock(s.timezone)
    if s.business_clock:
        clock.set(datetime.fromisoformat(s.business_clock))
    db = Database(s)
    writer = JourneyWriter(
        db.pool,
        rejected_path=s.node_dir / "log" / "journeys-rejected.jsonl",
        spool=Spool(s.journey_spool, s.journey_spool_max_bytes),
        deadline_s=s.journey_write_deadline_ms / 1000,
        node=s.node,
    )
    partitions = PartitionKeeper(db.pool, s.journey_partitions_ahead, s.journey_retention_days)
    live = LiveCalls()  # calls in progress, for the console
    journey = TeeJourney(writer, live)
    rest = AriRest(
        s.ari_base,
        s.ari_user,
        s.ari_password.get_secret_value(),
        s.ari_app,
        ws_max_waiting=s.ari_ws_max_waiting,
    )
    queues = load_queues(s.config_dir / "queues.yaml")
    policy = load_service(s.config_dir / "service.yaml", queues)
    transactions = business_transactions()
    known = Known(
        queues=set(queues.queues),
        transactions=transactions,
        languages=speakable_languages(s.config_dir),
        grades=set(policy.grades),
    )
    registry = FlowRegistry(s.flows_dir, known)
    cache = build_cache(s)
    lookup_priority = s.pg_lookup_realtime_priority
    lookups = Database(  # its own connections
        s,
        server_settings=LOOKUP_SESSION,
        role="lookup",
        init=realtime_sessions(lookup_priority) if lookup_priority else None,
    )
    store = PgCustomerStore(lookups)
    rules = load_rules(s.config_dir / "shedding.yaml")
    tracker = LoadTracker(rules)
    monitor = LoadMonitor(Ami(s), tracker, clock.now)
    shedding = SheddingService(rules, policy, clock, tracker)
    controls = ControlsService(PgControlStore(db.pool), rules.levels, cache)
    decide = controls.decide_with(shedding.decide)  # a forced level over the rules
    cluster = build_cluster(
        s,
        db,
        registry.reload,
        clock,
        shedding.override,
        lambda: NodeFigures(
            lambda: registry.current.version,
            lambda: len(ari.calls),
            ari.stream.connected.is_set,
        ),
    )
    worker = CallbackWorker(
        db.pool,
        AriDialer(rest),
        lambda: monitor.queues,
        leadership=cluster.leader,  # one node dials callbacks
        instance=cluster.instance,
    )
    deadline = s.lookup_deadline_ms / 1000

    risk = RiskCheck(
        PgRiskHistory(lookups.pool),
        load_risk(s.config_dir / "risk.yaml"),
        routing=s.risk_routing,
        joint=PgCustomerWithHistory(lookups.pool) if s.lookup_joint else None,
    )

    async def who(raw_caller: str) -> Identity:
        return await identify(store, raw_caller, deadline, risk)

    def flows() -> Any:
        return registry.current

    walker = FlowWalker(
        policy,
        queues,
        clock,
        flows,
        EngineDeps(
            renderer=call_renderer(cache),
            journey=journey,
            clock=clock,
            transactions=transactions,
            get_pool=db.pool,
        ),
        controls,
    )
    loops = Supervisor()
    exporter = PrometheusExporter(
        lambda: registry.current.by_number,
        HotlineState(
            shedding_level=lambda: decide(_standard_caller()).level,
            queues=lambda: monitor.queues,
            journey_backlog=lambda: writer.backlog,
            journey_dropped=lambda: writer.dropped,
            ari_reconnects=lambda: max(0, ari.stream.connects - 1),
            loop_restarts=lambda: loops.restarts,
            live_load_stale=lambda: monitor.stale,
            callback_leader=lambda: cluster.leader.leader,
            asyncio_tasks=asyncio_tasks,
        ),
    )
    services = CallServices(
        clock, TeeJourney(writer, live, exporter), who, decide, walker, log_calls=s.log_calls
    )

    async def serve_ari(call: AriCall, _args: tuple[str, ...]) -> None:
        await serve_call(call, "ari", services)

    ari = AriApplication(
        rest,
        serve_ari,
        Admission(s.max_concurrent_calls, s.max_calls_per_second, s.max_calls_per_source),
        rest_over_ws=s.ari_rest_over_ws,
        event_filter=s.ari_event_filter,
        varset_events=s.ari_varset_events,
        ws_client=s.ari_ws_client,
        answer_in_dialplan=s.ari_answer_in_dialplan,
        queue_in_extension=s.ari_queue_in_extension,
        side_channels=worker.handles,  # channels the app dialled itself (callbacks)
        on_side_event=lambda event: side_event(event, worker),
    )
    static_calls = StaticRecordImporter(s.asterisk_root / RECORD, writer, lambda: writer.flush(10))
    route_only = RouteOnly(who, decide, policy, queues, clock, flows)
    agi = AgiServer(build_routes(services, route_only), s.agi_host, s.agi_port)

    def stats() -> dict[str, Any]:
        return {
            "ari_connected": ari.stream.connected.is_set(),
            "active_calls": len(ari.calls),
            "asyncio_tasks": asyncio_tasks(),
            "ari_transport": rest.transport,
            "ari_requests": {
                "websocket": rest.sent_ws,
                "http": rest.sent_http,
                "by_route": dict(rest.sent_by_route),
            },
            "ari_messages": dict(ari.stream.received),
            "journeys_written": writer.written,
            "journeys_dropped": writer.dropped,
            "journeys_rejected": writer.rejected,
            "journeys_pending": writer.pending,
            "journeys_spooling": writer.spooling,
            "journeys_spooled": writer.spooled,
            "journeys_replayed": writer.replayed,
            "journey_spool_bytes": writer.spool_bytes,
            "loop_restarts": dict(loops.restarts),
            "live_load_stale": monitor.stale,
            "static_calls_imported": static_calls.imported,
            "business_clock": clock.now().isoformat(),
            "business_clock_overridden": clock.overridden,
            "shedding_override": shedding.override.level,
            "node": s.node,
            "flow_version": registry.current.version,
            **cluster.stats(),
        }

    console = ConsoleDeps(
        token=s.admin_token.get_secret_value(),
        controls=controls,
        flows=lambda: registry.current,
        live=live,
        queues=lambda: monitor.queues,
        shedding=lambda: decide(_standard_caller()),
        get_pool=db.pool,
        reload=cluster.sync.reload_flows,  # every node reloads
        rules=rules,
        timezone=s.timezone,
        sounds_dir=s.sounds_dir,
        now=lambda: datetime.now(ZoneInfo(s.timezone)),  # journeys are in real time
    )
    admin = AdminServer(
        build_admin(
            s.admin_token.get_secret_value(),
            clock,
            cluster.sync.reload_flows,
            stats,
            exporter.render,
            s.metrics_token.get_secret_value(),
            shedding.override,
            lambda app: add_console(app, console),
            cluster=cluster.sync,
        ),
        s.bind_address,
        s.admin_port,
        [],
    )
    return Runtime(
        settings=s,
        ari=ari,
        journey=writer,
        loops=loops,
        background=(
            ("journey-writer", writer.run),
            ("ari-events", ari.run),
            ("loop-lag", loop_lag_monitor),
            ("load-monitor", monitor.run),
            ("callback-worker", worker.run),
            ("controls", controls.run),
            ("journey-partitions", partitions.run),
            ("static-records", static_calls.run),
            *cluster.background,
        ),
        # the heartbeat stops (says so) before the pool closes
        components=(Resources(rest, (db, lookups), cache.close), cluster.heartbeat, admin, agi),
        reload=registry.reload,  # SIGHUP: this node only
    )

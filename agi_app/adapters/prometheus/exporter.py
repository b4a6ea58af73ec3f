"""The hotline's figures for Prometheus (``GET /metrics`` on the admin port).

Call counters are fed by the journey events (``emit`` is a journey sink, teed
beside the writer), so they count exactly what the journeys record. The two
latencies come from ``core.metrics`` samples as they are taken. Gauges that
are state (queue load, the shedding level, the writer's backlog) are read at
scrape time from the callables the wiring hands in.

Label values are bounded: ``line`` is a number some flow enters by, or
``other`` (a caller can dial anything); ``flow`` and ``outcome`` come from our
own flows and code.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from agi_app.core.journey import CallEnd, CallStart, JourneyEvent
from agi_app.core.metrics import METRICS
from agi_app.core.shedding.load import QueueLoad

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class HotlineState:
    """What the gauges read at scrape time."""

    shedding_level: Callable[[], int]  # the level a standard caller gets now
    queues: Callable[[], Mapping[str, QueueLoad]]
    journey_backlog: Callable[[], int]
    journey_dropped: Callable[[], int]
    ari_reconnects: Callable[[], int]
    loop_restarts: Callable[[], Mapping[str, int]]
    live_load_stale: Callable[[], bool] = lambda: False
    callback_leader: Callable[[], bool] = lambda: False  # this node dials callbacks
    asyncio_tasks: Callable[[], int] = lambda: 0  # tasks alive on the event loop (a leak shows)


@dataclass
class PrometheusExporter:
    lines: Callable[[], Container[str]]  # the numbers the running flows enter by
    state: HotlineState
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    _calls: dict[str, tuple[str, str]] = field(default_factory=dict)  # call id -> (line, via)
    # Each label set's child, looked up once (``labels()`` takes a lock and
    # validates every time); the label values are bounded, so is this.
    _children: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r = self.registry
        ProcessCollector(registry=r)  # RSS, CPU seconds, open file descriptors
        self.started = Counter(
            "agi_app_calls_started", "Calls that reached the app", ["line", "via"], registry=r
        )
        self.ended = Counter(
            "agi_app_calls_ended", "Calls ended", ["line", "flow", "outcome"], registry=r
        )
        self.in_progress = Gauge(
            "agi_app_calls_in_progress", "Calls the app is serving", ["via"], registry=r
        )
        self.lookup = Histogram(
            "agi_app_customer_lookup_seconds",
            "Customer lookup, deadline included",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.dtmf = Histogram(
            "agi_app_dtmf_to_playback_seconds",
            "From a caller's digit to the next prompt's playback command",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        r.register(_StateCollector(self.state))
        METRICS.listen("lookup_ms", lambda ms: self.lookup.observe(ms / 1000))
        METRICS.listen("dtmf_to_play_ms", lambda ms: self.dtmf.observe(ms / 1000))

    def emit(self, event: JourneyEvent) -> None:
        """A journey sink: count calls as they start and end."""
        if isinstance(event, CallStart):
            line = event.called if event.called in self.lines() else "other"
            self._calls[event.call_id] = (line, event.via)
            self._child(self.started, line, event.via).inc()
            self._child(self.in_progress, event.via).inc()
        elif isinstance(event, CallEnd):
            line, via = self._calls.pop(event.call_id, ("other", "ari"))
            flow = str(event.facts.get("flow") or "none")
            self._child(self.ended, line, flow, event.outcome).inc()
            self._child(self.in_progress, via).dec()

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(self, state: HotlineState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        s = self.state
        yield _gauge(
            "agi_app_shedding_level", "Shedding level for a standard caller", s.shedding_level()
        )
        waiting = GaugeMetricFamily("agi_app_queue_waiting", "Callers waiting", labels=["queue"])
        free = GaugeMetricFamily("agi_app_queue_agents_free", "Agents available", labels=["queue"])
        hold = GaugeMetricFamily(
            "agi_app_queue_longest_hold_seconds", "Longest wait now", labels=["queue"]
        )
        for name, load in sorted(s.queues().items()):
            waiting.add_metric([name], load.waiting)
            free.add_metric([name], load.available)
            hold.add_metric([name], load.longest_hold_s)
        yield from (waiting, free, hold)
        yield _gauge(
            "agi_app_live_load_stale", "1: AMI silent, calendar rules only", s.live_load_stale()
        )
        yield _gauge(
            "agi_app_callback_leader",
            "1: this node leads the callback worker (one node at a time)",
            s.callback_leader(),
        )
        yield _gauge("agi_app_asyncio_tasks", "Tasks alive on the event loop", s.asyncio_tasks())
        yield _gauge(
            "agi_app_journey_backlog", "Journey events not yet written", s.journey_backlog()
        )
        yield CounterMetricFamily(
            "agi_app_journey_dropped", "Journey events dropped", value=s.journey_dropped()
        )
        yield CounterMetricFamily(
            "agi_app_ari_reconnects", "ARI websocket reconnects", value=s.ari_reconnects()
        )
        restarts = CounterMetricFamily(
            "agi_app_loop_restarts", "Background loop restarts", labels=["loop"]
        )
        for loop, n in sorted(s.loop_restarts().items()):
            restarts.add_metric([loop], n)
        yield restarts


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)

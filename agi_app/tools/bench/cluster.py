"""`agi-app bench cluster` (`make bench-cluster`): what Kamailio costs, and failover.

One run on this machine: the cluster (2 IVR nodes with their apps, the queue
node, Kamailio) is started, then

1. the bench call (number 100, keys "wait 1; 1") at a fixed rate, direct and
   via Kamailio alternately (``repeats`` pairs). Direct: each IVR node's SIP
   port gets the rate split evenly from its own SIPp, so the nodes carry the
   same load both ways and only the hop differs. Measured per step: the
   CPU of every Kamailio process (``procstat``), INVITE->200 at the caller and
   Kamailio's own transit from the captured SIP packets (``sipcapture``,
   ``siptimes``);
2. failover: calls via Kamailio at the rate; ivr2's Asterisk killed (-9)
   after ``kill_after`` seconds; the calls placed after the kill counted (a
   second SIPp, its own callers); Kamailio's state polled until it shows the
   node inactive; then the node's Asterisk restarted and the state polled
   until active, and the node's app until ready.

Figures and targets: ``cluster_figures``; the page: ``cluster_page``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from agi_app.adapters.kamailio.dispatcher import KamailioError, destinations
from agi_app.settings import Settings
from agi_app.tools.appproc import AppProcess
from agi_app.tools.bench import procstat
from agi_app.tools.bench.cluster_figures import DIRECT, VIA, FailoverFigures, StepFigures
from agi_app.tools.bench.cluster_page import step_line
from agi_app.tools.bench.sipcapture import Capture
from agi_app.tools.bench.sipp import APP_NUMBER, KEYS, bench_callers, calibrate, pct
from agi_app.tools.bench.siptimes import CallTiming, call_timings, percentile
from agi_app.tools.qa.runner import SippResult, run_callers
from agi_app.tools.qa.scenario import build_caller, parse_keys
from agi_app.tools.stack import asterisk, cluster, kamailio
from agi_app.tools.stack.cluster_layout import NodeSpec, layout, node_root

IVR_NODES = 2
VICTIM = "ivr2"
WARM_UP_S = 3.0


@dataclass
class ClusterBench:
    """The running cluster and what the bench holds while it measures."""

    s: Settings
    nodes: list[NodeSpec]
    apps: dict[str, AppProcess]
    capture: Capture
    callers: list[str]
    workdir: Path

    @property
    def ivrs(self) -> list[NodeSpec]:
        return [n for n in self.nodes if n.is_ivr]

    def address(self, port: int) -> str:
        return f"{self.s.bind_address}:{port}"

    def node_name(self, port: int | None) -> str:
        return next((n.name for n in self.nodes if n.sip_port == port), str(port))

    def timings(self) -> list[CallTiming]:
        """The calls captured since the last call, and the capture emptied."""
        return call_timings(self.capture.take(), self.s.sip_port, [n.sip_port for n in self.ivrs])

    async def calls(
        self, target: int, callers: list[str], rate: float, tag: str, delay: float = 0.0
    ) -> SippResult:
        """``len(callers)`` bench calls to ``target`` at ``rate``, starting ``delay``
        seconds from now (the direct SIPps start a call interval apart, so their
        calls reach the nodes interleaved as Kamailio's do, not at the same
        instants); SIPp's result."""
        work = self.workdir / f"{tag}-{time.monotonic_ns()}"
        scenario = build_caller(parse_keys(KEYS), work, expect_cause=16, early_bye=False)
        if delay > 0:
            await asyncio.sleep(delay)
        return await run_callers(
            scenario,
            service=APP_NUMBER,
            callers=callers,
            calls=len(callers),
            rate=rate,
            limit=max(200, int(rate * 10)),
            timeout_s=len(callers) / rate + 60,
            target=self.address(target),
            call_timeout_s=30,
        )

    async def state(self, node: str, want: str, timeout: float) -> float | None:
        """Seconds until Kamailio shows ``node`` in state ``want`` (None: not within
        ``timeout``)."""
        ctl = kamailio.paths(self.s).ctl
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                now = await asyncio.to_thread(destinations, ctl)
            except KamailioError:
                now = []
            if any(d.node == node and d.state == want for d in now):
                return round(time.monotonic() - start, 3)
            await asyncio.sleep(0.05)
        return None


def kamailio_seconds(s: Settings) -> float:
    """CPU seconds of every Kamailio process so far (the daemon and its children)."""
    root = kamailio.pid(s)
    if root is None:
        return 0.0
    return procstat.tree_ticks(procstat.process_table(), root) / procstat.TICK


def _combine(results: list[SippResult]) -> SippResult:
    out = SippResult(rc=max(r.rc for r in results))
    for r in results:
        out.successful += r.successful
        out.failed += r.failed
        out.retransmissions += r.retransmissions
        for name, values in r.rtd.items():
            out.rtd.setdefault(name, []).extend(values)
    return out


async def one_step(
    b: ClusterBench, mode: str, rate: float, seconds: float, rep: int
) -> StepFigures:
    """One stretch of calls, direct (split over the IVR nodes) or via Kamailio."""
    calls = max(len(b.ivrs), int(rate * seconds))
    who = (b.callers * (calls // max(1, len(b.callers)) + 1))[:calls]
    calib, calib_cpu = calibrate()
    load = round(os.getloadavg()[0], 2)
    b.timings()  # drop what came between the steps
    cpu0, wall0 = kamailio_seconds(b.s), time.monotonic()
    if mode == DIRECT:
        n = len(b.ivrs)
        runs = [
            b.calls(node.sip_port, who[i::n], rate / n, f"{mode}-{rep}-{node.name}", i / rate)
            for i, node in enumerate(b.ivrs)
        ]
        result = _combine(list(await asyncio.gather(*runs)))
    else:
        result = await b.calls(b.s.sip_port, who, rate, f"{mode}-{rep}")
    wall = time.monotonic() - wall0
    cpu = kamailio_seconds(b.s) - cpu0
    timings = b.timings()
    answers = [t.answer_ms for t in timings if t.answer_ms is not None]
    transits = [t.transit_ms for t in timings if t.transit_ms is not None]
    nodes = Counter(
        b.node_name(t.node if mode == VIA else t.target) for t in timings if t.answer_ms
    )
    return StepFigures(
        mode=mode,
        rep=rep,
        rate=rate,
        calls=calls,
        ok=result.successful,
        failed=result.failed,
        retrans=result.retransmissions,
        answered=len(answers),
        invite_p50_ms=percentile(answers, 0.5),
        invite_p99_ms=percentile(answers, 0.99),
        sipp_rtd_p99_ms=pct(result.rtd.get("1", []), 0.99),
        transit_p50_ms=percentile(transits, 0.5),
        transit_p99_ms=percentile(transits, 0.99),
        kamailio_cpu_ms_per_call=round(1000 * cpu / calls, 3),
        kamailio_cpu_pct=round(100 * cpu / wall, 1),
        per_node=dict(nodes),
        calib_ms=calib,
        calib_cpu_ms=calib_cpu,
        load_avg=load,
    )


async def failover(
    b: ClusterBench, rate: float, seconds: float, kill_after: float
) -> FailoverFigures:
    """Calls via Kamailio; ivr2's Asterisk killed after ``kill_after`` s; restarted."""
    n_before = max(1, int(rate * kill_after))
    n_after = max(1, int(rate * (seconds - kill_after)))
    pool = b.callers * ((n_before + n_after) // max(1, len(b.callers)) + 2)
    before_who, after_who = pool[0::2][:n_before], pool[1::2][:n_after]
    for node in ("ivr1", VICTIM):
        if await b.state(node, "active", 15) is None:
            raise RuntimeError(f"Kamailio does not show {node} active before the failover run")
    b.timings()
    before = asyncio.create_task(b.calls(b.s.sip_port, before_who, rate, "failover-before"))
    await asyncio.sleep(kill_after)  # the kill's moment is what this run is about
    victim = asterisk.pid(node_root(b.s, VICTIM))
    if victim is None:
        before.cancel()
        raise RuntimeError(f"{VICTIM}'s Asterisk is not running")
    os.kill(victim, signal.SIGKILL)
    after = asyncio.create_task(b.calls(b.s.sip_port, after_who, rate, "failover-after"))
    inactive = await b.state(VICTIM, "inactive", 20)
    before_res, after_res = await asyncio.gather(before, after)
    mine = set(after_who) - set(before_who)
    late = [t for t in b.timings() if t.caller in mine]
    worst = max((t.answer_ms for t in late if t.answer_ms is not None), default=None)
    restart_s, active, ready = await _restart(b)
    return FailoverFigures(
        rate=rate,
        seconds=seconds,
        kill_after_s=kill_after,
        fr_timer_ms=kamailio.FR_TIMER_MS,
        before_calls=n_before,
        before_ok=before_res.successful,
        after_calls=n_after,
        after_ok=after_res.successful,
        after_failed=n_after - after_res.successful,
        after_worst_invite_ms=worst,
        after_failovers=sum(t.failover for t in late),
        after_finals=dict(Counter(str(t.final or "none") for t in late)),
        after_nodes=dict(Counter(b.node_name(t.node) for t in late if t.node)),
        marked_inactive_s=inactive,
        restart_s=restart_s,
        marked_active_s=active,
        app_ready_s=ready,
    )


async def _restart(b: ClusterBench) -> tuple[float, float | None, float | None]:
    """Restart the victim's Asterisk: (restart took, -> marked active, -> app ready)."""
    started = time.monotonic()
    await asyncio.to_thread(cluster.restart_asterisk, b.s, VICTIM, IVR_NODES)
    restart_s = round(time.monotonic() - started, 3)
    up = await b.state(VICTIM, "active", 30)
    active = None if up is None else round(restart_s + up, 3)
    ready: float | None = None
    try:
        await b.apps[VICTIM].wait_ready_async(60)
        ready = round(time.monotonic() - started, 3)
    except (TimeoutError, RuntimeError):
        pass
    return restart_s, active, ready


async def run(
    s: Settings,
    rate: float,
    seconds: float,
    repeats: int,
    failover_seconds: float,
    kill_after: float,
    workdir: Path,
) -> tuple[list[StepFigures], FailoverFigures | None]:
    """Start the cluster, run the steps and the failover, stop the cluster."""
    nodes = layout(s, IVR_NODES)
    started = await asyncio.to_thread(cluster.start, s, IVR_NODES)
    apps = {p.settings.node: p for p in started}
    capture = Capture([s.sip_port, *(n.sip_port for n in nodes if n.is_ivr)])
    steps: list[StepFigures] = []
    fail: FailoverFigures | None = None
    try:
        capture.start()
        b = ClusterBench(s, nodes, apps, capture, await bench_callers(s), workdir)
        # Not counted: the first calls after start-up find cold caches and pools
        # (a first measured step had p99 twice the later ones).
        for mode in (DIRECT, VIA):
            await one_step(b, mode, rate, WARM_UP_S, -1)
        for rep in range(repeats):
            for mode in (DIRECT, VIA):
                step = await one_step(b, mode, rate, seconds, rep)
                steps.append(step)
                print(step_line(step), flush=True)
        if failover_seconds > 0:
            fail = await failover(b, rate, failover_seconds, kill_after)
    finally:
        capture.stop()
        for app in apps.values():
            app.stop()
        await asyncio.to_thread(cluster.stop, s)
    return steps, fail

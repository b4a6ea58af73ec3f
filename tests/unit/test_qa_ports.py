"""SIPp port leases: distinct within and across processes, explicit ports checked,
and SIPp's own bind failure recognised (real SIPp on loopback, no stack)."""

from __future__ import annotations

import multiprocessing
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agi_app.tools.qa.answer_scenario import build_answerer
from agi_app.tools.qa.ports import PortError, is_bind_failure, lease, udp_bound, udp_free
from agi_app.tools.qa.runner import Answerer, run_callers
from agi_app.tools.qa.scenario import build_caller, parse_keys


@pytest.fixture
def held_port() -> Iterator[int]:
    """A UDP port on 127.0.0.1 held by a plain socket (someone else's)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_leases_held_together_never_share_a_port() -> None:
    leases = [lease() for _ in range(60)]
    try:
        ports = [p for x in leases for p in (x.sip, x.media, x.media + 2)]
        assert len(set(ports)) == len(ports)
    finally:
        for x in leases:
            x.release()


def _lease_in_child(n: int, barrier: object, out: object) -> None:
    held = [lease() for _ in range(n)]
    out.put([(x.sip, x.media) for x in held])  # type: ignore[attr-defined]
    barrier.wait()  # type: ignore[attr-defined]  # hold until every process has leased


def test_processes_leasing_at_once_never_share_a_port() -> None:
    ctx = multiprocessing.get_context("spawn")
    procs_n, each = 8, 10
    barrier, out = ctx.Barrier(procs_n), ctx.Queue()
    procs = [ctx.Process(target=_lease_in_child, args=(each, barrier, out)) for _ in range(procs_n)]
    for p in procs:
        p.start()
    pairs = [pair for _ in procs for pair in out.get(timeout=30)]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    ports = [port for sip, media in pairs for port in (sip, media, media + 2)]
    assert len(pairs) == procs_n * each and len(set(ports)) == len(ports)


def test_a_released_lease_frees_its_ports_for_others() -> None:
    first = lease()
    first.release()
    again = lease(first.sip, first.media)  # explicit: checked, not replaced
    assert (again.sip, again.media) == (first.sip, first.media)
    again.release()


def test_an_explicit_port_in_use_is_refused_by_name(held_port: int) -> None:
    with pytest.raises(PortError, match=f"SIP port {held_port} is in use"):
        lease(sip=held_port)
    assert not udp_free(held_port) and udp_bound(held_port)


async def test_qa_call_on_a_taken_port_reports_it(held_port: int, tmp_path: Path) -> None:
    xml = build_caller(parse_keys(""), tmp_path, expect_cause=None)
    with pytest.raises(PortError, match=str(held_port)):
        await run_callers(xml, service="100", callers=["1"], calls=1, sip_port=held_port)


def test_sipps_own_bind_failure_is_recognised(held_port: int, tmp_path: Path) -> None:
    """What the runner retries on: SIPp exits 254 'Unable to bind' when it loses a port."""
    proc = subprocess.run(
        ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(held_port), "-m", "1", "-nostdin"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert is_bind_failure(proc.returncode, proc.stdout + proc.stderr)
    assert not is_bind_failure(0, "")


async def test_an_answerer_on_a_taken_port_says_so(held_port: int, tmp_path: Path) -> None:
    ans = Answerer(build_answerer(tmp_path, hold_ms=100, name="agentx"), held_port)
    with pytest.raises(PortError, match=f"port {held_port} is in use"):
        await ans.start()
    await ans.stop()

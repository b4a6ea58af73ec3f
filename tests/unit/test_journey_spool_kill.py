"""How much a ``kill -9`` loses while the database is away: a real process emits
journey events at a steady rate into a writer whose database is unreachable,
is killed at a moment of the test's choosing, and the spool is counted against
what it had emitted (the count is written to a file after each burst; the page
cache survives the kill, as the spool's own writes do)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from agi_app.adapters.postgres.spool import read_segment

CHILD = r"""
import asyncio, datetime, os, sys, time
from pathlib import Path
from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.adapters.postgres.spool import Spool
from agi_app.core.journey import CallStep

async def no_pool():
    return None

async def main(folder, counter, rate):
    writer = JourneyWriter(no_pool, spool=Spool(Path(folder), 10**9))
    task = asyncio.create_task(writer.run())
    fd = os.open(counter, os.O_RDWR | os.O_CREAT)
    burst, n, t0 = 10, 0, time.monotonic()
    now = datetime.datetime.now(datetime.UTC)
    while True:
        for _ in range(burst):
            n += 1
            writer.emit(CallStep(f"c{n // 6}", "main", "menu", now, "1", {"x": n}))
        os.pwrite(fd, n.to_bytes(8, "big"), 0)
        await asyncio.sleep(max(0.0, t0 + n / rate - time.monotonic()))

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""

RATE = 600  # events/s: about 100 calls/s of a short flow (CallStart, 4 steps, CallEnd)


def kill_and_count(workdir: Path, after_s: float) -> tuple[int, int]:
    """(emitted, spooled) for one child killed ``after_s`` after it began spooling."""
    folder, counter = workdir / "spool", workdir / "emitted"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(counter), str(RATE)])
    try:
        deadline = time.monotonic() + 10
        while not list(folder.glob("*.seg")) or not any(
            p.stat().st_size for p in folder.glob("*.seg")
        ):
            assert child.poll() is None, "the child died"
            assert time.monotonic() < deadline, "nothing spooled in 10 s"
            time.sleep(0.005)
        time.sleep(after_s)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    emitted = int.from_bytes(counter.read_bytes(), "big")
    spooled = sum(len(read_segment(p).records) for p in sorted(folder.glob("*.seg")))
    return emitted, spooled


def test_kill_9_loses_at_most_the_last_50_ms_of_events(tmp_path: Path) -> None:
    rng = random.Random(15)
    losses = []
    for n in range(6):
        emitted, spooled = kill_and_count(tmp_path / f"run{n}", 0.3 + rng.random() * 0.5)
        assert spooled <= emitted
        losses.append(emitted - spooled)
    worst_ms = max(losses) / RATE * 1000
    print(f"kill -9 at {RATE} events/s: lost {losses} events, worst {worst_ms:.0f} ms")
    # 50 ms between appends, plus a burst of 10 and the fsync in flight.
    assert max(losses) <= RATE * 0.05 + 10 + RATE * 0.03

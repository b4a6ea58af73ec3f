"""The running app's journey spool: under var/ by default, and a graceful stop
with the database away leaves every journey event in it."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import cast

from agi_app.db.spool import Spool, decode_event, read_segment
from agi_app.runtime import Runtime
from agi_app.service import CallServices
from agi_app.settings import Settings
from tests.fake_ari import FakeAri
from tests.unit.test_journey_spool import journey


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_a_graceful_stop_with_the_database_away_spools_every_event(
    tmp_path: Path,
) -> None:
    fake = FakeAri()
    base = await fake.start()
    s = Settings(
        http_port=int(base.rsplit(":", 1)[1].split("/")[0]),
        admin_port=_free_port(),
        pg_port=_free_port(),  # nothing listens
        ami_port=_free_port(),
        var_dir=tmp_path,
    )
    runtime = Runtime(s)
    runtime.bind(cast(CallServices, None))  # no call arrives in this test
    events = [e for n in range(50) for e in journey(f"c{n}")]
    for e in events:
        runtime.journey.emit(e)
    runtime.stopping.set()  # SIGTERM as soon as it runs
    async with asyncio.timeout(20):
        assert await runtime.run() == 0
    await fake.stop()
    folder = tmp_path / "spool" / "journeys"
    segments = Spool(folder, 10**9).segments()
    spooled = [decode_event(p) for seg in segments for p in read_segment(seg).records]
    assert spooled == events
    assert runtime.stats()["journeys_spooled"] == len(events)

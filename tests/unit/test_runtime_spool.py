"""The running app's journey spool: under var/ by default, and a graceful stop
with the database away leaves every journey event in it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agi_app.adapters.ari.app import Admission, AriApplication
from agi_app.adapters.ari.call import AriCall
from agi_app.adapters.ari.rest import AriRest
from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.adapters.postgres.spool import Spool, decode_event, read_segment
from agi_app.entry.runtime import Runtime
from agi_app.entry.supervisor import Supervisor
from agi_app.settings import Settings
from tests.fake_ari import FakeAri
from tests.unit.test_journey_spool import journey


async def test_a_graceful_stop_with_the_database_away_spools_every_event(
    tmp_path: Path,
) -> None:
    fake = FakeAri()
    base = await fake.start()
    s = Settings(var_dir=tmp_path)
    rest = AriRest(base, "u", "p", "agi-app")

    async def no_pool() -> None:
        return None  # the database is away

    async def serve(_call: AriCall, _args: tuple[str, ...]) -> None:
        return None  # no call arrives in this test

    async def reload() -> dict[str, object]:
        return {"ok": True}

    ari = AriApplication(rest, serve, Admission(10, 0))
    writer = JourneyWriter(no_pool, spool=Spool(s.journey_spool, s.journey_spool_max_bytes))
    runtime = Runtime(
        settings=s,
        ari=ari,
        journey=writer,
        loops=Supervisor(),
        background=(("journey-writer", writer.run), ("ari-events", ari.run)),
        components=(),
        reload=reload,
    )
    events = [e for n in range(50) for e in journey(f"c{n}")]
    for e in events:
        writer.emit(e)
    runtime.stopping.set()  # SIGTERM as soon as it runs
    async with asyncio.timeout(20):
        assert await runtime.run() == 0
    await rest.close()
    await fake.stop()
    folder = tmp_path / "spool" / "journeys"
    segments = Spool(folder, 10**9).segments()
    spooled = [decode_event(p) for seg in segments for p in read_segment(seg).records]
    assert spooled == events
    assert writer.spooled == len(events)

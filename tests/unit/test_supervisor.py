"""Background loops are restarted when they die, counted, and given up on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agi_app.adapters.ari.app import Admission, AriApplication
from agi_app.adapters.ari.call import AriCall
from agi_app.adapters.ari.rest import AriRest
from agi_app.adapters.postgres.journeys import JourneyWriter
from agi_app.core.metrics import METRICS
from agi_app.entry.runtime import Runtime
from agi_app.entry.supervisor import Supervisor
from agi_app.settings import Settings
from tests.fake_ari import FakeAri


def quick(**kw: float | int) -> Supervisor:
    opts: dict[str, float | int] = {"backoff_first_s": 0.01, "backoff_max_s": 0.02, **kw}
    return Supervisor(**opts)  # type: ignore[arg-type]


async def test_a_loop_that_dies_is_restarted_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    runs = 0
    alive = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise RuntimeError(f"bug number {runs}")
        alive.set()
        await asyncio.Event().wait()  # then it runs for good

    before = METRICS.counters["loop_restarts"]
    sup = quick()
    sup.start("flaky", flaky)
    async with asyncio.timeout(2):
        await alive.wait()
    assert sup.restarts == {"flaky": 2}
    assert METRICS.counters["loop_restarts"] - before == 2
    assert not sup.failed.is_set()
    assert "bug number 1" in caplog.text and "background loop flaky died" in caplog.text
    await sup.stop()


async def test_a_loop_that_returns_is_restarted_too() -> None:
    runs = 0

    async def returns() -> None:
        nonlocal runs
        runs += 1

    sup = quick(max_failures=3)
    sup.start("returns", returns)
    async with asyncio.timeout(2):
        await sup.failed.wait()
    assert runs == 3


async def test_a_loop_that_keeps_dying_is_given_up_on() -> None:
    async def doomed() -> None:
        raise ValueError("always")

    sup = quick(max_failures=4, window_s=60)
    sup.start("doomed", doomed)
    async with asyncio.timeout(2):
        await sup.failed.wait()
    assert sup.failed_loop == "doomed"
    assert sup.restarts["doomed"] == 3  # the fourth death is not followed by a restart
    await sup.stop()


async def test_deaths_spread_over_time_are_not_fatal() -> None:
    deaths = 0
    done = asyncio.Event()

    async def rare() -> None:
        nonlocal deaths
        deaths += 1
        if deaths >= 6:
            done.set()
            await asyncio.Event().wait()
        raise RuntimeError("rare")

    sup = quick(max_failures=3, window_s=0.015, backoff_first_s=0.02, backoff_max_s=0.02)
    sup.start("rare", rare)
    async with asyncio.timeout(3):
        await done.wait()
    assert not sup.failed.is_set()
    await sup.stop()


async def test_a_second_loop_of_the_same_name_is_refused() -> None:
    sup = quick()
    sup.start("x", asyncio.Event().wait)
    with pytest.raises(ValueError, match="already supervised"):
        sup.start("x", asyncio.Event().wait)
    await sup.stop()


async def test_the_app_stops_non_zero_when_a_loop_keeps_dying(tmp_path: Path) -> None:
    """The real Runtime against a fake ARI: a doomed loop ends `run` with exit code 1,
    and the components it started are stopped again."""
    fake = FakeAri()
    base = await fake.start()
    s = Settings(var_dir=tmp_path)
    rest = AriRest(base, "u", "p", "agi-app")
    served: list[str] = []

    async def serve(call: AriCall, _args: tuple[str, ...]) -> None:
        served.append(call.call_id)

    async def no_pool() -> None:
        return None

    async def doomed() -> None:
        raise RuntimeError("a bug in a background loop")

    async def reload() -> dict[str, object]:
        return {"ok": True}

    ari = AriApplication(rest, serve, Admission(10, 0))
    component = Recorder()
    runtime = Runtime(
        settings=s,
        ari=ari,
        journey=JourneyWriter(no_pool),
        loops=quick(max_failures=3),
        background=(("ari-events", ari.run), ("doomed", doomed)),
        components=(component,),
        reload=reload,
    )
    async with asyncio.timeout(20):
        code = await runtime.run()
    assert code == 1
    assert runtime.loops.failed_loop == "doomed"
    assert component.events == ["start", "stop"]
    assert not (tmp_path / "run" / "app.pid").exists()
    await rest.close()
    await fake.stop()


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def start(self) -> None:
        self.events.append("start")

    async def stop(self) -> None:
        self.events.append("stop")

"""The ARI client against a fake ARI at the HTTP/websocket edge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agi_app.ari.app import Admission, AriApplication, Serve
from agi_app.ari.call import AriCall
from agi_app.ari.rest import AriRest, ChannelGone, auth_header
from agi_app.callcontrol import CallHangup
from tests.fake_ari import FakeAri, dtmf, hangup, playback_finished, stasis_start


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    ari = FakeAri()
    yield ari
    await ari.stop()


async def make_app(
    fake: FakeAri, serve: Serve, max_calls: int = 10
) -> tuple[AriApplication, asyncio.Task[None]]:
    base = await fake.start()
    rest = AriRest(base, "user", "pw", "agi-app")
    app = AriApplication(rest, serve, Admission(max_calls, 0))
    app.stream._backoff_first = 0.01
    task = asyncio.create_task(app.run())
    async with asyncio.timeout(5):
        await fake.connected.wait()
        await app.stream.connected.wait()
    return app, task


async def stop_app(app: AriApplication, task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await app.rest.close()


async def test_rest_sends_auth_header_and_maps_gone(fake: FakeAri) -> None:
    base = await fake.start()
    rest = AriRest(base, "user", "pw", "agi-app")
    await rest.answer("c1")
    assert fake.requests[-1].auth == auth_header("user", "pw")
    await rest.hangup("c1", 16)
    assert fake.requests[-1].method == "DELETE"
    assert fake.requests[-1].params["reason_code"] == ["16"]
    fake.gone_channels.add("c2")
    with pytest.raises(ChannelGone):
        await rest.answer("c2")
    await rest.close()


async def test_call_flow_digits_barge_in_and_hangup(fake: FakeAri) -> None:
    seen: list[str] = []
    ended = asyncio.Event()

    async def serve(call: AriCall, args: tuple[str, ...]) -> None:
        try:
            await call.answer()
            await call.play(["hello"], barge_in=True)  # barged in by digit 1
            seen.append(await call.digits.next(5) or "")
            await call.play(["bye"], barge_in=False)
            await call.digits.next(5)  # the caller hangs up here
        except CallHangup:
            seen.append("hangup")
        finally:
            ended.set()

    app, task = await make_app(fake, serve)
    await fake.send(stasis_start("c1"))
    await fake.wait_request("POST", "/channels/c1/play/")
    await fake.send(dtmf("c1", "1"))
    stop = await fake.wait_request("DELETE", "/playbacks/")  # barge-in stopped the prompt
    plays = [r for r in fake.requests if "/play/" in r.path]
    assert stop.path.endswith(plays[0].path.rsplit("/", 1)[1])
    async with asyncio.timeout(5):
        while len([r for r in fake.requests if "/play/" in r.path]) < 2:
            await asyncio.sleep(0.01)
    second = [r for r in fake.requests if "/play/" in r.path][1]
    await fake.send(playback_finished("c1", second.path.rsplit("/", 1)[1]))
    await fake.send(hangup("c1"))
    async with asyncio.timeout(5):
        await ended.wait()
    assert seen == ["1", "hangup"]
    assert "c1" not in app.calls
    await stop_app(app, task)


async def test_reconnect_reconciles_vanished_and_orphan_calls(fake: FakeAri) -> None:
    started: list[str] = []
    hung: list[str] = []

    async def serve(call: AriCall, args: tuple[str, ...]) -> None:
        started.append(call.call_id)
        try:
            await call.digits.next(30)
        except CallHangup:
            hung.append(call.call_id)

    app, task = await make_app(fake, serve)
    await fake.send(stasis_start("c1"))
    async with asyncio.timeout(5):
        while "c1" not in started:
            await asyncio.sleep(0.01)
    # Asterisk "restarts": c1 is gone, an orphan c9 sits in our Stasis app.
    fake.channels = [stasis_start("c9")["channel"]]
    await fake.drop()
    async with asyncio.timeout(5):
        while fake.ws_connects < 2 or "c9" not in started or "c1" not in hung:
            await asyncio.sleep(0.01)
    assert app.stream.connects == 2
    await stop_app(app, task)


async def test_admission_refuses_over_limit(fake: FakeAri) -> None:
    block = asyncio.Event()

    async def serve(call: AriCall, args: tuple[str, ...]) -> None:
        await block.wait()

    app, task = await make_app(fake, serve, max_calls=1)
    await fake.send(stasis_start("c1"))
    await fake.send(stasis_start("c2"))
    refused = await fake.wait_request("DELETE", "/channels/c2")
    assert refused.params["reason_code"] == ["17"]
    assert list(app.calls) == ["c1"]
    block.set()
    await stop_app(app, task)


def test_admission_rate_limit() -> None:
    adm = Admission(max_calls=100, rate_per_s=2)
    assert [adm.admit(0, 0.0) for _ in range(3)] == [True, True, False]
    assert adm.admit(0, 0.6)  # a token refilled after half a second

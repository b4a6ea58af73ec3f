"""The ARI client against a fake ARI at the HTTP/websocket edge."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from agi_app.adapters.ari.app import Admission, AriApplication, Serve
from agi_app.adapters.ari.call import AriCall
from agi_app.adapters.ari.events import StasisStart
from agi_app.adapters.ari.rest import AriRest, ChannelGone, auth_header, route_of
from agi_app.adapters.ari.wsconn import WsClient
from agi_app.adapters.ari.wsrest import WsRequester
from agi_app.core.callcontrol import CallHangup
from tests.fake_ari import FakeAri, dtmf, hangup, playback_finished, stasis_start


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    ari = FakeAri()
    yield ari
    await ari.stop()


async def make_app(
    fake: FakeAri, serve: Serve, max_calls: int = 10, ws_client: WsClient = "picows"
) -> tuple[AriApplication, asyncio.Task[None]]:
    base = await fake.start()
    rest = AriRest(base, "user", "pw", "agi-app")
    app = AriApplication(rest, serve, Admission(max_calls, 0), ws_client=ws_client)
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


@pytest.mark.parametrize("client", ["picows", "aiohttp"])
async def test_call_flow_digits_barge_in_and_hangup(fake: FakeAri, client: WsClient) -> None:
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

    app, task = await make_app(fake, serve, ws_client=client)
    await fake.send(stasis_start("c1"))
    await fake.wait_request("POST", "/channels/c1/play/")
    await fake.send(dtmf("c1", "1"))
    stop = await fake.wait_request("DELETE", "/playbacks/")  # barge-in stopped the prompt
    plays = [r for r in fake.requests if "/play/" in r.path]
    assert stop.path.endswith(plays[0].path.rsplit("/", 1)[1])
    # on the websocket, not waited for (picows writes the frame at once; aiohttp in a task)
    assert stop.via == "ws" and app.rest.sent_by_route["DELETE playbacks"] == 1
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


async def test_a_media_name_that_is_not_a_sound_name_is_never_sent(fake: FakeAri) -> None:
    rest = AriRest(await fake.start(), "user", "pw", "agi-app")
    call = AriCall(rest, "c1", "13800000001", "10086", answered=True)
    for name in ("ok,sound:../../../etc/x", "../../etc/x", "a b"):
        with pytest.raises(ValueError, match="not a sound name"):
            await call.play(["ok", name], barge_in=False)
    assert [r for r in fake.requests if "/play/" in r.path] == []
    await rest.close()


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


async def test_requests_go_over_the_websocket_with_the_event_filter(fake: FakeAri) -> None:
    async def serve(call: AriCall, args: tuple[str, ...]) -> None:
        await call.answer()
        await call.set_variables({"NOTE": "a b&c=d"})  # Asterisk decodes query_strings itself
        await call.hangup(16)

    app, task = await make_app(fake, serve)
    assert app.rest.transport == "websocket"
    flt = await fake.wait_request("PUT", "/applications/agi-app/eventFilter")
    allowed = {item["type"] for item in flt.body["allowed"]}
    assert {"StasisStart", "ChannelDtmfReceived", "RESTResponse"} <= allowed
    assert "PlaybackStarted" not in allowed
    await fake.send(stasis_start("c1"))
    hung = await fake.wait_request("DELETE", "/channels/c1")
    note = await fake.wait_request("POST", "/channels/c1/variable")
    assert note.params == {"variable": ["NOTE"], "value": ["a b&c=d"]}
    assert {r.via for r in fake.requests if "/channels/c1" in r.path} == {"ws"}
    assert hung.params["reason_code"] == ["16"] and hung.auth == auth_header("user", "pw")
    await stop_app(app, task)


async def test_gone_channel_over_the_websocket_is_channel_gone(fake: FakeAri) -> None:
    app, task = await make_app(fake, _idle)
    fake.gone_channels.add("c2")
    with pytest.raises(ChannelGone):
        await app.rest.answer("c2")
    assert fake.requests[-1].via == "ws"
    await stop_app(app, task)


async def test_asterisk_without_rest_over_ws_gets_http(fake: FakeAri) -> None:
    fake.rest_over_ws = False  # Asterisk < 22.4 ignores RESTRequest
    base = await fake.start()
    rest = AriRest(base, "user", "pw", "agi-app")
    app = AriApplication(rest, _idle, Admission(10, 0))
    app.stream.probe_timeout_s = 0.2
    task = asyncio.create_task(app.run())
    async with asyncio.timeout(5):
        await app.stream.connected.wait()
    assert rest.transport == "http"
    await rest.answer("c1")
    assert fake.requests[-1].via == "http"
    await stop_app(app, task)


async def test_websocket_drop_fails_waiting_requests_and_falls_back_to_http(
    fake: FakeAri,
) -> None:
    app, task = await make_app(fake, _idle)
    fake.hold_ws_requests = True  # Asterisk stops answering, then the socket drops
    pending = asyncio.create_task(app.rest.answer("c1"))
    await fake.wait_request("POST", "/channels/c1/answer")
    fake.rest_over_ws = False  # after the reconnect Asterisk "forgot" the feature
    app.stream.probe_timeout_s = 0.2
    await fake.drop()
    with pytest.raises(ConnectionError):
        async with asyncio.timeout(5):
            await pending
    assert app.rest.transport == "http"  # no websocket: HTTP at once, not an error
    await app.rest.answer("c3")
    assert fake.requests[-1].via == "http"
    await stop_app(app, task)


async def test_unanswered_websocket_requests_time_out() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    requester = WsRequester(send, timeout_s=5)
    waiting = asyncio.create_task(requester.request("POST", "channels/c1/answer"))
    await asyncio.sleep(0)
    assert requester.waiting == 1 and '"RESTRequest"' in sent[0]
    assert requester.expire(time.monotonic() + 1) == 0  # not late yet
    assert requester.expire(time.monotonic() + 6) == 1
    with pytest.raises(TimeoutError):
        await waiting
    assert requester.waiting == 0
    requester.resolve({"type": "RESTResponse", "request_id": "r1", "status_code": 204})  # late
    requester.fail_all(ConnectionError("closed"))
    with pytest.raises(ConnectionError):
        await requester.request("GET", "channels")


def test_a_request_nobody_waits_for_is_one_frame_and_its_answer_is_dropped() -> None:
    frames: list[str] = []

    async def send(text: str) -> None:
        raise AssertionError("not through the coroutine")

    requester = WsRequester(send, send_now=frames.append)
    assert requester.request_nowait("DELETE", "playbacks/p1")
    msg = json.loads(frames[0])
    assert (msg["type"], msg["method"], msg["uri"]) == ("RESTRequest", "DELETE", "playbacks/p1")
    assert requester.waiting == 0
    requester.resolve({"type": "RESTResponse", "request_id": msg["request_id"], "status_code": 204})

    def closed(_text: str) -> None:
        raise ConnectionError("closed")

    assert not WsRequester(send, send_now=closed).request_nowait("DELETE", "playbacks/p2")
    assert not WsRequester(send).request_nowait("DELETE", "playbacks/p3")  # aiohttp: no send_now


async def _idle(call: AriCall, args: tuple[str, ...]) -> None:
    await call.digits.next(30)


async def test_requests_spill_to_http_while_the_websocket_is_backed_up(fake: FakeAri) -> None:
    app, task = await make_app(fake, _idle)
    app.rest.ws_max_waiting = 1
    ws_before, http_before = app.rest.sent_ws, app.rest.sent_http
    fake.hold_ws_requests = True  # Asterisk is still busy with the first request
    first = asyncio.create_task(app.rest.answer("c1"))
    await fake.wait_request("POST", "/channels/c1/answer")
    await app.rest.answer("c2")  # does not queue behind c1 on the websocket
    assert [(r.path, r.via) for r in fake.requests if "/answer" in r.path] == [
        ("/channels/c1/answer", "ws"),
        ("/channels/c2/answer", "http"),
    ]
    assert (app.rest.sent_ws - ws_before, app.rest.sent_http - http_before) == (1, 1)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await stop_app(app, task)


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("POST", "/channels/1700.42/answer", "POST channels/answer"),
        ("POST", "/channels/1700.42/play/p-7", "POST channels/play"),
        ("DELETE", "/playbacks/p-7", "DELETE playbacks"),
        ("DELETE", "/channels/1700.42", "DELETE channels"),
        ("GET", "/channels", "GET channels"),
        ("POST", "/applications/agi-app/subscription", "POST applications/subscription"),
        ("POST", "/asterisk/variable", "POST asterisk/variable"),
        ("GET", "asterisk/ping", "GET asterisk/ping"),
    ],
)
def test_request_routes_leave_the_ids_out(method: str, path: str, route: str) -> None:
    assert route_of(method, path) == route


async def test_requests_and_messages_are_counted_for_the_bench(fake: FakeAri) -> None:
    async def serve(call: AriCall, args: tuple[str, ...]) -> None:
        await call.answer()
        await call.hangup(16)

    app, task = await make_app(fake, serve)
    responses = app.stream.received["RESTResponse"]  # the ping and the event filter
    await fake.send(stasis_start("c1"))
    await fake.wait_request("DELETE", "/channels/c1")
    async with asyncio.timeout(5):
        while app.stream.received["RESTResponse"] < responses + 2:
            await asyncio.sleep(0.01)
    assert app.rest.sent_by_route["POST channels/answer"] == 1
    assert app.rest.sent_by_route["DELETE channels"] == 1
    assert app.stream.received["StasisStart"] == 1
    await stop_app(app, task)


async def test_reconnect_hands_a_callback_channel_to_its_owner(fake: FakeAri) -> None:
    """A callback's channel in our Stasis app is the callback worker's (adopt or end
    it), never a new inbound call."""
    served: list[str] = []
    side: list[object] = []

    async def serve(call: AriCall, args: tuple[str, ...]) -> None:
        served.append(call.call_id)

    base = await fake.start()
    app = AriApplication(
        AriRest(base, "user", "pw", "agi-app"),
        serve,
        Admission(10, 0),
        side_channels=lambda c: c.startswith("callback-"),
        on_side_event=side.append,
    )
    app.stream._backoff_first = 0.01
    orphan = stasis_start("callback-7-abc")["channel"]
    orphan["dialplan"]["app_data"] = "agi-app,callback,7"
    fake.channels = [orphan, stasis_start("c9")["channel"]]
    task = asyncio.create_task(app.run())
    async with asyncio.timeout(5):
        while "c9" not in served or not side:
            await asyncio.sleep(0.01)
    (event,) = side
    assert isinstance(event, StasisStart)
    assert (event.channel.id, event.args) == ("callback-7-abc", ("callback", "7"))
    assert served == ["c9"]
    await stop_app(app, task)

"""The bench's floor client: the bench call's requests, and the whole call
against the fake ARI over the websocket."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pydantic import SecretStr

from agi_app.adapters.ari.events import USED_TYPES
from agi_app.settings import Settings
from agi_app.tools.bench.floor import ANNOUNCEMENT, GREETING, encode, reply, serve
from tests.fake_ari import FakeAri, dtmf, playback_finished, stasis_start


def test_the_bench_call_gets_its_requests_and_nothing_else() -> None:
    assert reply(stasis_start("c1")) == [
        ("POST", "channels/c1/play", (("media", GREETING), ("playbackId", "g-c1")), None)
    ]
    assert [r[:2] for r in reply(dtmf("c1", "1"))] == [
        ("DELETE", "playbacks/g-c1"),
        ("POST", "channels/c1/play"),
    ]
    assert reply(dtmf("c1", "2")) == []
    assert reply(playback_finished("c1", "g-c1")) == []
    assert reply(playback_finished("c1", "a-c1")) == [
        ("DELETE", "channels/c1", (("reason_code", "16"),), None)
    ]
    assert reply({"type": "StasisEnd", "channel": {"id": "c1"}}) == []


def test_a_request_is_a_rest_request_message() -> None:
    msg = json.loads(encode(("PUT", "applications/a/eventFilter", (), {"allowed": []}), "f1"))
    assert msg == {
        "type": "RESTRequest",
        "request_id": "f1",
        "method": "PUT",
        "uri": "applications/a/eventFilter",
        "content_type": "application/json",
        "message_body": '{"allowed":[]}',
    }
    msg = json.loads(encode(("DELETE", "channels/c", (("reason_code", "16"),), None), "f2"))
    assert msg["query_strings"] == [{"name": "reason_code", "value": "16"}]
    assert "message_body" not in msg


async def test_the_floor_sets_up_and_carries_a_call(tmp_path: Path) -> None:
    fake = FakeAri()
    await fake.start()
    s = Settings(var_dir=tmp_path, http_port=fake.port, ari_user="u", ari_password=SecretStr("p"))
    ready = tmp_path / "ready"
    task = asyncio.create_task(serve(s, ready))
    try:
        flt = await fake.wait_request("PUT", "/eventFilter")
        assert [t["type"] for t in flt.body["allowed"]] == list(USED_TYPES)
        async with asyncio.timeout(5):
            while not ready.exists():
                await asyncio.sleep(0.01)
        variables = {
            r.params["variable"][0]: r.params["value"][0]
            for r in fake.requests
            if r.path == "/asterisk/variable"
        }
        assert variables == {"AGI_APP_ANSWER": "1", "AGI_APP_DRAINING": "0"}

        await fake.send(stasis_start("c1"))
        play = await fake.wait_request("POST", "/channels/c1/play")
        assert play.params["media"] == [GREETING] and play.via == "ws"
        await fake.send(dtmf("c1", "1"))
        await fake.wait_request("DELETE", "/playbacks/g-c1")
        await fake.send(playback_finished("c1", "a-c1"))
        bye = await fake.wait_request("DELETE", "/channels/c1")
        assert bye.params["reason_code"] == ["16"]
        assert [r.params.get("media") for r in fake.requests if r.path.endswith("/play")] == [
            [GREETING],
            [ANNOUNCEMENT],
        ]
        await fake.drop()
        async with asyncio.timeout(5):
            assert await task == 0
    finally:
        task.cancel()
        await fake.stop()


async def test_a_refused_setup_is_an_error_not_a_ready_floor(tmp_path: Path) -> None:
    fake = FakeAri()
    await fake.start()
    s = Settings(var_dir=tmp_path, http_port=fake.port, ari_user="u", ari_password=SecretStr("p"))
    fake._answer = lambda *a, **k: (403, {"message": "no"})  # type: ignore[method-assign]
    async with asyncio.timeout(5):
        assert await serve(s, tmp_path / "ready") == 1
    assert not (tmp_path / "ready").exists()
    await fake.stop()

"""The per-call ARI levers against the fake ARI: the dialplan answers (no
POST answer), the dialplan is told so, and the event filter leaves out
ChannelVarset; stasis.conf declines the message types nothing consumes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agi_app.adapters.ari.app import ANSWER_VAR, Admission, AriApplication
from agi_app.adapters.ari.call import AriCall
from agi_app.adapters.ari.rest import AriRest
from agi_app.settings import Settings
from agi_app.tools.stack.asterisk import DECLINED_MESSAGES, stasis_values
from tests.fake_ari import FakeAri, stasis_start


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    ari = FakeAri()
    yield ari
    await ari.stop()


async def start_app(fake: FakeAri, **kwargs: object) -> tuple[AriApplication, asyncio.Task[None]]:
    async def serve(call: AriCall, _args: tuple[str, ...]) -> None:
        await call.answer()
        await call.hangup(16)

    rate = float(str(kwargs.pop("rate", 0)))
    rest = AriRest(await fake.start(), "user", "pw", "agi-app")
    app = AriApplication(rest, serve, Admission(10, rate), **kwargs)  # type: ignore[arg-type]
    app.stream._backoff_first = 0.01
    task = asyncio.create_task(app.run())
    async with asyncio.timeout(5):
        await app.stream.connected.wait()
    return app, task


async def stop(app: AriApplication, task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await app.rest.close()


@pytest.mark.parametrize(("state", "answers"), [("Up", 0), ("Ring", 1)])
async def test_a_call_answered_in_the_dialplan_is_not_answered_again(
    fake: FakeAri, state: str, answers: int
) -> None:
    app, task = await start_app(fake, answer_in_dialplan=True)
    await fake.send(stasis_start("c1", state=state))
    await fake.wait_request("DELETE", "/channels/c1")
    assert len([r for r in fake.requests if r.path == "/channels/c1/answer"]) == answers
    await stop(app, task)


@pytest.mark.parametrize(
    ("answer_in_dialplan", "rate", "value"),
    [(True, 0, "1"), (False, 0, "0"), (True, 5, "0")],  # a rate limit refuses unanswered
)
async def test_the_dialplan_is_told_whether_to_answer(
    fake: FakeAri, answer_in_dialplan: bool, rate: float, value: str
) -> None:
    app, task = await start_app(fake, answer_in_dialplan=answer_in_dialplan, rate=rate)
    sets = [r for r in fake.requests if r.path == "/asterisk/variable"]
    assert {r.params["variable"][0]: r.params["value"][0] for r in sets}[ANSWER_VAR] == value
    await stop(app, task)


@pytest.mark.parametrize("varset", [False, True])
async def test_the_event_filter_takes_channelvarset_only_when_asked(
    fake: FakeAri, varset: bool
) -> None:
    app, task = await start_app(fake, varset_events=varset)
    flt = await fake.wait_request("PUT", "/applications/agi-app/eventFilter")
    allowed = {item["type"] for item in flt.body["allowed"]}
    assert ("ChannelVarset" in allowed) == varset
    assert {"StasisStart", "StasisEnd", "ChannelEnteredBridge", "ChannelDestroyed"} <= allowed
    await stop(app, task)


def test_stasis_conf_declines_the_unused_message_types() -> None:
    on = stasis_values(Settings(asterisk_decline_messages=True, asterisk_small_pools=True))
    assert on["stasis_declined"].splitlines() == [f"decline={n}" for n in DECLINED_MESSAGES]
    assert "[taskpool]" in on["stasis_taskpool"]
    off = stasis_values(Settings(asterisk_decline_messages=False, asterisk_small_pools=False))
    assert off == {"stasis_declined": "", "stasis_taskpool": ""}
    # Never declined: what ARI, app_queue and the queue members' state need.
    needed = {
        "ast_channel_snapshot_type",
        "ast_channel_hangup_request_type",
        "ast_device_state_message_type",
        "stasis_app_playback_snapshot_type",
        "ast_channel_dtmf_end_type",
        "ast_channel_entered_bridge_type",
        "ast_channel_dtmf_begin_type",  # the manager routes it: declined, AMI fails to load
    }
    assert not needed & set(DECLINED_MESSAGES)

"""The ARI queue transfer against the fake ARI: the call leaves Stasis for the
queue context and comes back (``Stasis(app,after-queue,${QUEUESTATUS})``, see
dialplan/20-queues.conf) or hangs up while queued."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from agi_app.adapters.ari.app import Admission, AriApplication
from agi_app.adapters.ari.call import QUEUE_CONTEXT, AriCall, queue_extension
from agi_app.adapters.ari.rest import AriRest
from agi_app.core.callcontrol import CallHangup, QueueResult, queue_times
from tests.fake_ari import (
    FakeAri,
    Request,
    dtmf,
    entered_bridge,
    hangup,
    stasis_end,
    stasis_start,
    varset,
)

SUBSCRIPTION = "/applications/agi-app/subscription"
Outcome = QueueResult | BaseException


class Transfer:
    """The application with one call that goes to the queue; its outcome."""

    def __init__(self, fake: FakeAri, queue_in_extension: bool = True) -> None:
        self.fake = fake
        self.queue_in_extension = queue_in_extension
        self.outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.app: AriApplication | None = None
        self.task: asyncio.Task[None] | None = None

    async def serve(self, call: AriCall, args: tuple[str, ...]) -> None:
        try:
            result: Outcome = await call.transfer_to_queue("support", 7, 120, "t")
        except CallHangup as exc:
            result = exc
        self.outcome.set_result(result)

    async def start(self) -> None:
        rest = AriRest(await self.fake.start(), "user", "pw", "agi-app")
        self.app = AriApplication(
            rest, self.serve, Admission(10, 0), queue_in_extension=self.queue_in_extension
        )
        self.app.stream._backoff_first = 0.01
        self.task = asyncio.create_task(self.app.run())
        async with asyncio.timeout(5):
            await self.app.stream.connected.wait()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.app is not None:
            await self.app.rest.close()

    async def result(self) -> Outcome:
        async with asyncio.timeout(5):
            return await self.outcome

    async def in_queue(self, channel: str = "c1") -> Request:
        """The call was sent to the queue context; Asterisk says it left Stasis."""
        await self.fake.send(stasis_start(channel))
        cont = await self.fake.wait_request("POST", f"/channels/{channel}/continue")
        await self.fake.send(stasis_end(channel))
        return cont


@pytest.fixture(params=[True, False], ids=["queue-in-extension", "queue-variables"])
async def transfer(request: pytest.FixtureRequest) -> AsyncIterator[Transfer]:
    fake = FakeAri()
    t = Transfer(fake, queue_in_extension=request.param)
    await t.start()
    yield t
    await t.stop()
    await fake.stop()


def said(outcome: Outcome) -> tuple[str, str | None]:
    """The status and agent of a queue result (its times are checked apart)."""
    assert isinstance(outcome, QueueResult), outcome
    return outcome.status, outcome.agent


def channel_requests(fake: FakeAri, channel: str = "c1") -> list[Request]:
    return [
        r
        for r in fake.requests
        if r.path.startswith(f"/channels/{channel}")
        or (r.path == SUBSCRIPTION and r.params.get("eventSource") == [f"channel:{channel}"])
    ]


async def test_transfer_sets_variables_subscribes_then_continues(transfer: Transfer) -> None:
    cont = await transfer.in_queue()
    steps = [(r.method, r.path, r.params) for r in channel_requests(transfer.fake)]
    if transfer.queue_in_extension:
        # dialplan/20-queues.conf splits the extension into the four variables.
        extension = "Q7,120,t,support"
        assert steps[:1] == [("POST", SUBSCRIPTION, {"eventSource": ["channel:c1"]})]
    else:
        extension = "s"
        assert steps[:5] == [
            (
                "POST",
                "/channels/c1/variable",
                {"variable": ["AGI_APP_QUEUE"], "value": ["support"]},
            ),
            ("POST", "/channels/c1/variable", {"variable": ["QUEUE_PRIO"], "value": ["7"]}),
            (
                "POST",
                "/channels/c1/variable",
                {"variable": ["AGI_APP_QUEUE_TIMEOUT"], "value": ["120"]},
            ),
            (
                "POST",
                "/channels/c1/variable",
                {"variable": ["AGI_APP_QUEUE_OPTIONS"], "value": ["t"]},
            ),
            ("POST", SUBSCRIPTION, {"eventSource": ["channel:c1"]}),  # before it leaves Stasis
        ]
    assert cont.params == {
        "context": [QUEUE_CONTEXT],
        "extension": [extension],
        "priority": ["1"],
    }
    assert steps[-1] == ("POST", "/channels/c1/continue", cont.params)
    # StasisEnd into the dialplan is not a hangup: a DTMF sent after it is seen
    # (events are applied in order), and the call is still waiting for the queue.
    assert transfer.app is not None
    call = transfer.app.calls["c1"]
    await transfer.fake.send(dtmf("c1", "5"))
    async with asyncio.timeout(5):
        while not call.digits.pending():
            await asyncio.sleep(0.005)
    assert not call.gone and call.in_dialplan and not transfer.outcome.done()
    await transfer.fake.send(stasis_start("c1", args=("after-queue", "TIMEOUT")))
    assert said(await transfer.result()) == ("TIMEOUT", None)


@pytest.mark.parametrize("status", ["TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY"])
async def test_the_queue_status_comes_back_with_the_caller(transfer: Transfer, status: str) -> None:
    await transfer.in_queue()
    await transfer.fake.send(stasis_start("c1", args=("after-queue", status)))
    result = await transfer.result()
    assert said(result) == (status, None)
    assert isinstance(result, QueueResult) and result.wait_s is not None and result.talk_s is None
    assert transfer.app is not None and "c1" not in transfer.app.calls


async def test_back_without_a_status_is_unknown(transfer: Transfer) -> None:
    await transfer.in_queue()
    await transfer.fake.send(stasis_start("c1", args=("after-queue",)))
    assert said(await transfer.result()) == ("UNKNOWN", None)


async def test_an_agent_answered_and_hung_up_first(transfer: Transfer) -> None:
    await transfer.in_queue()
    await transfer.fake.send(varset("c1", "MEMBERNAME", "agent2"))
    await transfer.fake.send(entered_bridge("c1"))
    await transfer.fake.send(stasis_start("c1", args=("after-queue", "CONTINUE")))
    assert said(await transfer.result()) == ("ANSWERED", "agent2")
    # Subscribed while in the dialplan: the app lets go once the call task ends.
    await transfer.fake.wait_request("DELETE", SUBSCRIPTION)


async def test_hanging_up_while_queued_is_call_hangup(transfer: Transfer) -> None:
    await transfer.in_queue()
    await transfer.fake.send(hangup("c1", cause=16))
    outcome = await transfer.result()
    assert isinstance(outcome, CallHangup)
    assert transfer.app is not None
    async with asyncio.timeout(5):
        while "c1" in transfer.app.calls:
            await asyncio.sleep(0.005)


async def test_the_caller_hanging_up_after_talking_to_an_agent_is_answered(
    transfer: Transfer,
) -> None:
    await transfer.in_queue()
    await transfer.fake.send(varset("c1", "MEMBERNAME", "agent1"))
    await transfer.fake.send(hangup("c1", cause=16))
    assert said(await transfer.result()) == ("ANSWERED", "agent1")


async def test_a_channel_gone_before_the_queue_is_call_hangup(transfer: Transfer) -> None:
    transfer.fake.gone_channels.add("c1")  # hung up as the transfer began
    await transfer.fake.send(stasis_start("c1"))
    outcome = await transfer.result()
    assert isinstance(outcome, CallHangup)
    # The first channel request failed (a variable, or the continue itself).
    first = next(r for r in transfer.fake.requests if r.path.startswith("/channels/c1"))
    assert first.path.endswith("/continue" if transfer.queue_in_extension else "/variable")


async def test_the_agent_is_read_once_the_caller_is_bridged(transfer: Transfer) -> None:
    """No ChannelVarset in the event filter: MEMBERNAME is read on ChannelEnteredBridge."""
    transfer.fake.variables["c1"] = {"MEMBERNAME": "agent3"}
    await transfer.in_queue()
    await transfer.fake.send(entered_bridge("c1"))
    await transfer.fake.wait_request("GET", "/channels/c1/variable")
    await transfer.fake.send(hangup("c1", cause=16))  # the caller hung up on the agent
    assert said(await transfer.result()) == ("ANSWERED", "agent3")


async def test_the_agent_comes_back_as_a_stasis_argument(transfer: Transfer) -> None:
    await transfer.in_queue()
    await transfer.fake.send(stasis_start("c1", args=("after-queue", "CONTINUE", "agent4")))
    assert said(await transfer.result()) == ("ANSWERED", "agent4")


async def test_no_agent_comes_back_empty(transfer: Transfer) -> None:
    await transfer.in_queue()
    await transfer.fake.send(stasis_start("c1", args=("after-queue", "TIMEOUT", "")))
    assert said(await transfer.result()) == ("TIMEOUT", None)


@pytest.mark.parametrize(
    ("queue", "options", "extension"),
    [
        ("support", "", "Q3,60,,support"),
        ("vip_line", "tT", "Q3,60,tT,vip_line"),
        ("客服", "", None),  # not ASCII: the variables are set instead
        ("a,b", "", None),
        ("q" * 80, "", None),  # past Asterisk's extension length
    ],
)
def test_queue_extension(queue: str, options: str, extension: str | None) -> None:
    assert queue_extension(queue, 3, 60, options) == extension


class Clock:
    """time.monotonic for the call module only (the event loop keeps its own)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


@pytest.mark.parametrize("hang_up", [False, True])
async def test_the_wait_and_the_talk_are_split_at_the_answer(
    transfer: Transfer, monkeypatch: pytest.MonkeyPatch, hang_up: bool
) -> None:
    """Joined at 100 s, the agent answers at 130 s (the caller's channel enters
    the bridge), the call with the agent ends at 330 s: 30 s waited, 200 s talked,
    whether the agent hangs up first (back in Stasis) or the caller does."""
    clock = Clock(100.0)
    fake_time = SimpleNamespace(monotonic=clock.monotonic, perf_counter=time.perf_counter)
    monkeypatch.setattr("agi_app.adapters.ari.call.time", fake_time)
    transfer.fake.variables["c1"] = {"MEMBERNAME": "agent1"}  # read on the bridge
    await transfer.in_queue()
    assert transfer.app is not None
    call = transfer.app.calls["c1"]
    clock.now = 130.0
    await transfer.fake.send(entered_bridge("c1"))
    await transfer.fake.send(varset("c1", "MEMBERNAME", "agent1"))  # later: not the answer
    async with asyncio.timeout(5):
        while call.agent is None:
            await asyncio.sleep(0.005)
    assert call.answered_at == 130.0
    clock.now = 330.0
    if hang_up:
        await transfer.fake.send(hangup("c1", cause=16))
    else:
        await transfer.fake.send(stasis_start("c1", args=("after-queue", "CONTINUE")))
    assert await transfer.result() == QueueResult("ANSWERED", "agent1", 30.0, 200.0)


@pytest.mark.parametrize(
    ("joined", "answered", "left", "times"),
    [
        (100.0, 130.0, 330.0, (30.0, 200.0)),
        (100.0, None, 160.0, (60.0, None)),  # nobody answered: all of it was waiting
        (100.0, 100.0, 100.0, (0.0, 0.0)),
        (100.0, 99.0, 98.0, (0.0, 0.0)),  # never negative
        (0.0, 1.23456, 2.0, (1.235, 0.765)),  # to the millisecond
    ],
)
def test_queue_times_table(
    joined: float, answered: float | None, left: float, times: tuple[float, float | None]
) -> None:
    assert queue_times(joined, answered, left) == times

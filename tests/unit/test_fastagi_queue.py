"""A queue transfer over FastAGI: after Queue() the session reads what app_queue
left on the caller's channel, the test playing Asterisk's side of the socket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agi_app.adapters.fastagi.call import AgiCall
from agi_app.adapters.fastagi.server import AgiRequest, AgiServer
from agi_app.core.callcontrol import QueueResult
from tests.unit.test_fastagi import Asterisk

TIMES = 'GET FULL VARIABLE "${QUEUEWAIT_MS},${ANSWEREDTIME_MS},${DIALEDTIME_MS}"'


@pytest.fixture
async def queued() -> AsyncIterator[tuple[AgiServer, list[QueueResult]]]:
    results: list[QueueResult] = []

    async def queue(req: AgiRequest) -> None:
        results.append(await AgiCall(req).transfer_to_queue("support", 3, 60))

    srv = AgiServer({"queue": queue}, port=0, header_timeout_s=0.3)
    await srv.start()
    yield srv, results
    await srv.close()


@pytest.mark.parametrize(
    ("member", "times", "status", "expected"),
    [
        # Answered after 30.5 s in the queue, 200.25 s with the agent.
        ("agent1", "30500,200250,230750", None, QueueResult("ANSWERED", "agent1", 30.5, 200.25)),
        # A Dial() to a queue node sets no QUEUEWAIT_MS: the wait is dialled - answered.
        ("agent1", ",200250,230750", None, QueueResult("ANSWERED", "agent1", 30.5, 200.25)),
        # Nobody answered: ANSWEREDTIME_MS is 0, the wait is the time in the queue.
        ("", "60000,0,60000", "TIMEOUT", QueueResult("TIMEOUT", None, 60.0, None)),
        # An Asterisk that sets none of them: no times, as before.
        ("agent1", ",,", None, QueueResult("ANSWERED", "agent1", None, None)),
        # Not 0-9 ("²".isdigit() is true, int("²") raises): not a number, like unset.
        ("agent1", "²,200250,٣", None, QueueResult("ANSWERED", "agent1", None, 200.25)),
    ],
)
async def test_queue_times_from_the_channel(
    queued: tuple[AgiServer, list[QueueResult]],
    member: str,
    times: str,
    status: str | None,
    expected: QueueResult,
) -> None:
    srv, results = queued
    ast = await Asterisk.connect(srv.bound_port)
    await ast.request("queue")
    replies = {
        'EXEC MSet "QUEUE_PRIO=3,AGI_APP_QUEUE=support"': "200 result=0",
        "EXEC Queue": "200 result=0",
        "GET VARIABLE MEMBERNAME": f"200 result=1 ({member})" if member else "200 result=0",
        TIMES: f"200 result=1 ({times})",
        "GET VARIABLE QUEUESTATUS": f"200 result=1 ({status})",
    }
    seen: list[str] = []
    while True:
        cmd = await ast.command()
        seen.append(cmd)
        if cmd.startswith("SET VARIABLE AGI_APP_STATUS"):
            break
        reply = next(r for prefix, r in replies.items() if cmd.startswith(prefix))
        await ast.reply(reply)
    await ast.close()
    assert results == [expected]
    assert TIMES in seen


@pytest.fixture
async def setter() -> AsyncIterator[AgiServer]:
    async def set_them(req: AgiRequest) -> None:
        values = dict(a.split("=", 1) for a in req.args)
        await AgiCall(req).set_variables(values)

    srv = AgiServer({"set": set_them}, port=0, header_timeout_s=0.3)
    await srv.start()
    yield srv
    await srv.close()


@pytest.mark.parametrize(
    ("args", "mset_reply", "expected"),
    [
        # Plain names and values: one round trip (route-only sets six this way).
        (["A=gold", "B=3", "C="], None, ['EXEC MSet "A=gold,B=3,C="']),
        # A value MSet would split or unquote: one SET VARIABLE each.
        (["A=gold", 'B=x,"y"'], None, ['SET VARIABLE A "gold"', 'SET VARIABLE B "x,\\"y\\""']),
        # One variable: SET VARIABLE, no MSet.
        (["A=gold"], None, ['SET VARIABLE A "gold"']),
        # MSet refused (an Asterisk without it: -2): one each, as before.
        (
            ["A=1", "B=2"],
            "200 result=-2",
            ['EXEC MSet "A=1,B=2"', 'SET VARIABLE A "1"', 'SET VARIABLE B "2"'],
        ),
    ],
)
async def test_variables_are_set_in_one_round_trip_when_they_are_plain(
    setter: AgiServer, args: list[str], mset_reply: str | None, expected: list[str]
) -> None:
    ast = await Asterisk.connect(setter.bound_port)
    await ast.request("set", *args)
    seen: list[str] = []
    while not (cmd := await ast.command()).startswith("SET VARIABLE AGI_APP_STATUS"):
        seen.append(cmd)
        await ast.reply(
            mset_reply
            if mset_reply and cmd.startswith("EXEC MSet")
            else "200 result=1"
            if cmd.startswith("SET")
            else "200 result=0"
        )
    await ast.close()
    assert seen == expected

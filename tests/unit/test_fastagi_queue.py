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
        "SET VARIABLE QUEUE_PRIO": "200 result=1",
        "SET VARIABLE AGI_APP_QUEUE": "200 result=1",
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

"""The FastAGI server over a real TCP socket; the test plays Asterisk's side."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from agi_app.adapters.fastagi.call import AgiCall
from agi_app.adapters.fastagi.protocol import AgiProtocolError, parse_reply, quote, split_script
from agi_app.adapters.fastagi.server import AgiRequest, AgiServer
from tests.fakes import LoopWatch

HEADER = (
    "agi_network: yes\nagi_network_script: {script}\nagi_request: agi://127.0.0.1/{script}\n"
    "agi_channel: PJSIP/anonymous-0001\nagi_uniqueid: 1700000000.1\n"
    "agi_callerid: 13800000005\nagi_dnid: 100\nagi_extension: 100\n{args}\n"
)


class Asterisk:
    """The Asterisk end of one FastAGI connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> Asterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, script: str, *args: str) -> None:
        arglines = "".join(f"agi_arg_{n}: {a}\n" for n, a in enumerate(args, 1))
        self.writer.write(HEADER.format(script=script, args=arglines).encode())
        await self.writer.drain()

    async def command(self) -> str:
        async with asyncio.timeout(5):
            return (await self.reader.readline()).decode().strip()

    async def reply(self, line: str) -> None:
        self.writer.write(line.encode() + b"\n")
        await self.writer.drain()

    async def answer_until_status(self) -> tuple[list[str], str]:
        """Reply 200 result=1 to everything; return commands and the final status."""
        seen: list[str] = []
        while True:
            cmd = await self.command()
            if not cmd:
                raise AssertionError(f"closed without a status after {seen}")
            seen.append(cmd)
            await self.reply("200 result=1")
            if cmd.startswith("SET VARIABLE AGI_APP_STATUS"):
                return seen, cmd.split(" ", 3)[3]

    async def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def server() -> AsyncIterator[AgiServer]:
    seen: list[AgiRequest] = []

    async def echo(req: AgiRequest) -> None:
        seen.append(req)
        await req.channel.set_variable("GOT", ",".join(req.args))

    async def boom(req: AgiRequest) -> None:
        raise RuntimeError("bug in a handler")

    async def play(req: AgiRequest) -> None:
        call = AgiCall(req)
        await call.play(["a", "b"], barge_in=True)
        digit = await call.digits.next(1)
        await req.channel.set_variable("DIGIT", digit or "none")

    async def inject(req: AgiRequest) -> None:
        # What an announcement prompt set from a JSON body once reached: a media
        # name holding a line break and a second AGI command.
        await AgiCall(req).play(["ok", 'x\nEXEC System "touch /tmp/pwned"'], barge_in=False)

    handlers = {"echo": echo, "boom": boom, "play": play, "inject": inject}
    srv = AgiServer(handlers, port=0, header_timeout_s=0.3)
    srv.seen = seen  # type: ignore[attr-defined]
    await srv.start()
    yield srv
    await srv.close()


async def test_route_args_and_query(server: AgiServer) -> None:
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("echo?lang=en&x=1", "100", "a b")
    cmds, status = await ast.answer_until_status()
    assert cmds[0] == 'SET VARIABLE GOT "100,a b"'
    assert status == '"SUCCESS"'
    req = server.seen[0]  # type: ignore[attr-defined]
    assert (req.route, req.query, req.args) == ("echo", {"lang": "en", "x": "1"}, ["100", "a b"])
    await ast.close()


async def test_unknown_route_is_refused_visibly(server: AgiServer) -> None:
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("nowhere")
    _cmds, status = await ast.answer_until_status()
    assert status == '"FAILURE"'
    await ast.close()


async def test_handler_bug_reports_failure_and_server_lives_on(server: AgiServer) -> None:
    for route, expected in (("boom", '"FAILURE"'), ("echo", '"SUCCESS"')):
        ast = await Asterisk.connect(server.bound_port)
        await ast.request(route)
        assert (await ast.answer_until_status())[1] == expected
        await ast.close()


async def test_connect_and_close_storm_leaks_nothing(server: AgiServer) -> None:
    for _ in range(100):
        _r, w = await asyncio.open_connection("127.0.0.1", server.bound_port)
        w.close()
    t0 = time.monotonic()
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("echo")
    assert (await ast.answer_until_status())[1] == '"SUCCESS"'
    assert time.monotonic() - t0 < 1.0  # answered promptly
    await ast.close()
    async with asyncio.timeout(2):
        while server.connections:
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    "junk",
    [b"\x00\xff garbage\n\n", b"GET / HTTP/1.1\r\n\r\n", b"agi_x: " + b"y" * 1_000_000 + b"\n"],
    ids=["binary", "http", "one-megabyte-line"],
)
async def test_garbage_is_dropped(server: AgiServer, junk: bytes) -> None:
    r, w = await asyncio.open_connection("127.0.0.1", server.bound_port)
    w.write(junk)
    try:
        async with asyncio.timeout(3):
            assert await r.read() == b""  # the server closed the connection
    except ConnectionResetError:
        pass  # closed while we were still sending: just as good
    w.close()
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("echo")
    assert (await ast.answer_until_status())[1] == '"SUCCESS"'
    await ast.close()


async def test_stalled_header_is_cut_without_blocking_the_loop(server: AgiServer) -> None:
    r, w = await asyncio.open_connection("127.0.0.1", server.bound_port)
    w.write(b"agi_network: yes\n")  # and then nothing
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    async with asyncio.timeout(3):
        assert await r.read() == b""  # cut at the header deadline (0.3 s)
    task.cancel()
    assert ticks >= 15  # the loop kept running meanwhile
    w.close()


async def test_hangup_mid_command_stops_sending(server: AgiServer) -> None:
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("play")
    assert (await ast.command()).startswith("STREAM FILE a")
    await ast.reply("HANGUP")
    await ast.reply("200 result=-1")
    async with asyncio.timeout(3):
        rest = await ast.reader.read()
    assert rest == b""  # no further command after the hangup, not even the status
    await ast.close()


async def test_digit_interrupting_a_prompt_is_kept(server: AgiServer) -> None:
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("play")
    assert (await ast.command()) == 'STREAM FILE a "0123456789*#"'
    await ast.reply(f"200 result={ord('5')} endpos=1000")  # 5 pressed: b is skipped
    assert (await ast.command()) == 'SET VARIABLE DIGIT "5"'
    await ast.reply("200 result=1")
    assert (await ast.command()).startswith("SET VARIABLE AGI_APP_STATUS")
    await ast.close()


async def test_a_media_name_that_is_not_a_sound_name_sends_nothing(server: AgiServer) -> None:
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("inject")
    cmds, status = await ast.answer_until_status()
    assert (cmds, status) == (['SET VARIABLE AGI_APP_STATUS "FAILURE"'], '"FAILURE"')
    await ast.close()


def test_protocol_helpers() -> None:
    assert parse_reply("200 result=1 (hello world)").data == "hello world"
    assert parse_reply("200 result=-1").result == -1
    assert split_script("flow?a=1&b=") == ("flow", {"a": "1", "b": ""})
    assert quote('x"\ny') == '"x\\" y"'  # a newline can never start a second command
    with pytest.raises(AgiProtocolError):
        parse_reply("garbage")


async def test_overlong_command_is_refused_not_split(server: AgiServer) -> None:
    async def long_value(req: AgiRequest) -> None:
        await req.channel.set_variable("X", "a" * 3000 + '"\nEXEC System "rm -rf /')

    server.routes = {**server.routes, "long": long_value}
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("long")
    cmds, _status = await ast.answer_until_status()
    assert cmds == ['SET VARIABLE AGI_APP_STATUS "FAILURE"']  # nothing of the value was sent
    await ast.close()


async def _served_after(server: AgiServer) -> None:
    """The next request is answered at once: the server still works."""
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("echo")
    async with asyncio.timeout(2):
        assert (await ast.answer_until_status())[1] == '"SUCCESS"'
    await ast.close()


async def _drained(server: AgiServer, within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while server.connections:
            await asyncio.sleep(0.01)


async def test_usage_text_then_close_ends_the_command(server: AgiServer) -> None:
    """Regression: ``520-`` and a close made readline() return b"" forever (100 % CPU)."""
    watch = LoopWatch()
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("echo")
    assert (await ast.command()).startswith("SET VARIABLE GOT")
    ast.writer.write(b"520-Invalid command syntax.  Proper usage follows:\n")
    await ast.writer.drain()
    ast.writer.close()
    t0 = time.monotonic()
    await _drained(server, 1.0)
    await asyncio.sleep(0.2)
    assert watch.stop() >= 10  # the loop kept turning
    assert time.monotonic() - t0 < 1.0
    await _served_after(server)


async def test_usage_text_cut_mid_line_ends_the_command(server: AgiServer) -> None:
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("echo")
    await ast.command()
    ast.writer.write(b"520-Invalid\nUsage: SET VARIABLE <var")  # no newline, then the close
    await ast.writer.drain()
    ast.writer.close()
    await _drained(server, 1.0)
    await _served_after(server)


async def test_endless_usage_text_is_cut_by_the_line_cap(server: AgiServer) -> None:
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("echo")
    await ast.command()
    ast.writer.write(b"520-Invalid\n" + b"more usage\n" * 5000)  # never "520 End"
    await ast.writer.drain()
    async with asyncio.timeout(2):
        rest = await ast.reader.read()  # the server closed the connection
    assert b"AGI_APP_STATUS" not in rest  # out of step: nothing more is sent
    await _drained(server, 1.0)
    await ast.close()
    await _served_after(server)


async def test_slow_usage_text_is_bounded_by_one_command_timeout() -> None:
    """The timeout covers the whole reply, not each of its lines."""

    async def ask(req: AgiRequest) -> None:
        await req.channel.command("NOOP")

    srv = AgiServer({"ask": ask}, port=0, command_timeout_s=0.5)
    await srv.start()
    try:
        ast = await Asterisk.connect(srv.bound_port)
        await ast.request("ask")
        assert await ast.command() == "NOOP"
        t0 = time.monotonic()

        async def trickle() -> None:
            ast.writer.write(b"520-Invalid\n")
            for _ in range(40):  # a line every 0.1 s, each well inside 0.5 s
                await asyncio.sleep(0.1)
                ast.writer.write(b"usage line\n")
                await ast.writer.drain()

        sender = asyncio.create_task(trickle())
        await _drained(srv, 2.0)
        assert time.monotonic() - t0 < 1.5
        sender.cancel()
        await ast.close()
    finally:
        await srv.close()


async def test_usage_text_complete_returns_the_reply(server: AgiServer) -> None:
    seen: list[int] = []

    async def ask(req: AgiRequest) -> None:
        seen.append((await req.channel.command("BOGUS")).code)

    server.routes = {**server.routes, "ask": ask}
    ast = await Asterisk.connect(server.bound_port)
    await ast.request("ask")
    assert await ast.command() == "BOGUS"
    await ast.reply("520-Invalid command syntax.\nUsage: BOGUS\n520 End of proper usage.")
    _cmds, status = await ast.answer_until_status()
    assert seen == [520] and status == '"SUCCESS"'
    await ast.close()


async def test_header_cut_by_a_close_is_dropped(server: AgiServer) -> None:
    watch = LoopWatch()
    for partial in (b"agi_network: yes\n", b"agi_network: yes\nagi_chan", b"\n"):
        _r, w = await asyncio.open_connection("127.0.0.1", server.bound_port)
        w.write(partial)
        await w.drain()
        w.close()
    await _drained(server, 1.0)
    await asyncio.sleep(0.1)
    assert watch.stop() >= 5
    await _served_after(server)

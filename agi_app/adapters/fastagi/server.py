"""The FastAGI server: one tracked task per connection, deadlines everywhere.

A route is ``async def handler(request) -> None``. Every request ends by
setting the channel variable ``AGI_APP_STATUS`` to SUCCESS or FAILURE, so the
dialplan can tell; an unknown route gets FAILURE (and a log line) instead of
a silent close. A connect-and-close, garbage, a header that never completes
or a slow client only costs its own task until its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from agi_app.adapters.fastagi.protocol import (
    MAX_HEADER_LINES,
    AgiProtocolError,
    AgiReply,
    parse_header_line,
    parse_reply,
    quote,
    split_script,
)
from agi_app.core.callcontrol import CallHangup
from agi_app.core.metrics import METRICS

log = logging.getLogger(__name__)
MAX_COMMAND_BYTES = 2000  # res_agi reads at most 2047 bytes a line
MAX_REPLY_LINES = 256  # one reply, usage text included (res_agi's longest is ~40)
MAX_REPLY_BYTES = 32_768


class _ReplyBudget:
    """Caps one reply: a peer that streams lines forever is cut, not followed."""

    def __init__(self) -> None:
        self.lines = 0
        self.size = 0

    def take(self, size: int) -> None:
        self.lines += 1
        self.size += size
        if self.lines > MAX_REPLY_LINES or self.size > MAX_REPLY_BYTES:
            raise AgiProtocolError(
                f"AGI reply over {MAX_REPLY_LINES} lines or {MAX_REPLY_BYTES} bytes"
            )


class AgiChannel:
    """Sends commands, reads replies; stops at the first sign of a hangup."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout_s: float
    ) -> None:
        self._reader, self._writer, self._timeout = reader, writer, timeout_s
        self.hung_up = False

    async def command(self, line: str, timeout_s: float | None = None) -> AgiReply:
        """Send one command; its whole reply (usage text included) within the timeout."""
        if self.hung_up:
            raise CallHangup("agi")  # replies arrive one command late after a hangup
        data = line.encode()
        if len(data) > MAX_COMMAND_BYTES:
            # res_agi cuts longer lines and would run the rest as a second command.
            raise AgiProtocolError(f"AGI command of {len(data)} bytes refused")
        self._writer.write(data + b"\n")
        await self._writer.drain()
        try:
            async with asyncio.timeout(timeout_s or self._timeout):
                return await self._read_reply()
        except (AgiProtocolError, TimeoutError):
            self.hung_up = True  # the session is out of step: send nothing more
            raise

    async def _read_reply(self) -> AgiReply:
        budget = _ReplyBudget()
        while True:
            text = await self._line(budget)
            if text.startswith("HANGUP"):
                self.hung_up = True
                continue  # the reply to our command still follows
            reply = parse_reply(text)
            if reply.code == 520:  # multi-line usage text until "520 End..."
                while not text.startswith("520 "):
                    text = await self._line(budget)
                return reply
            if reply.code == 511 or reply.result == -1:
                self.hung_up = True
                raise CallHangup("agi: channel hung up")
            return reply

    async def _line(self, budget: _ReplyBudget) -> str:
        """One reply line; end of file is a hangup, never an empty line to loop on."""
        try:
            raw = await self._reader.readline()
        except (ValueError, asyncio.LimitOverrunError) as exc:  # one line over the limit
            raise AgiProtocolError("AGI reply line too long") from exc
        if not raw.endswith(b"\n"):  # b"" or a last line cut by the close
            self.hung_up = True
            raise CallHangup("agi: connection closed")
        budget.take(len(raw))
        return raw.decode(errors="replace").strip()

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f"SET VARIABLE {name} {quote(value)}")

    async def get_variable(self, name: str) -> str:
        reply = await self.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == 1 else ""


@dataclass
class AgiRequest:
    route: str
    env: dict[str, str]
    args: list[str]
    query: dict[str, str]
    channel: AgiChannel
    status: str = "SUCCESS"


Handler = Callable[[AgiRequest], Awaitable[None]]


@dataclass
class AgiServer:
    routes: Mapping[str, Handler]
    host: str = "127.0.0.1"
    port: int = 4573
    header_timeout_s: float = 5.0
    command_timeout_s: float = 3600.0  # a queue wait is one long EXEC
    max_connections: int = 500
    connections: set[asyncio.Task[None]] = field(default_factory=set)
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, limit=8192)
        log.info("FastAGI listening on %s:%d", self.host, self.port)

    @property
    def bound_port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self.connections):
            task.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self.connections) >= self.max_connections:
            METRICS.count("agi_refused")
            writer.close()
            return
        self.connections.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self.connections.discard(task)
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self.header_timeout_s):
                env = await read_header(reader)
        except (TimeoutError, AgiProtocolError, ValueError, asyncio.LimitOverrunError) as exc:
            METRICS.count("agi_bad_requests")
            log.warning("FastAGI: dropped a connection: %s", exc or type(exc).__name__)
            return
        route, query = split_script(env.get("network_script", ""))
        args = [env[f"arg_{n}"] for n in range(1, 64) if f"arg_{n}" in env]
        req = AgiRequest(
            route, env, args, query, AgiChannel(reader, writer, self.command_timeout_s)
        )
        await self._dispatch(req)

    async def _dispatch(self, req: AgiRequest) -> None:
        handler = self.routes.get(req.route)
        who = f"route={req.route!r} channel={req.env.get('channel', '?')}"
        if handler is None:
            log.warning("FastAGI: unknown %s", who)
            req.status = "FAILURE"
        else:
            try:
                await handler(req)
            except CallHangup:
                return  # the caller left; nothing more to send
            except (TimeoutError, AgiProtocolError, OSError) as exc:
                log.warning("FastAGI: %s failed: %s", who, exc or type(exc).__name__)
                req.status = "FAILURE"
            except Exception:  # the boundary of one request: log, tell the dialplan
                log.exception("FastAGI: %s failed", who)
                req.status = "FAILURE"
        with contextlib.suppress(CallHangup, TimeoutError, AgiProtocolError, OSError):
            await req.channel.set_variable("AGI_APP_STATUS", req.status)


async def read_header(reader: asyncio.StreamReader) -> dict[str, str]:
    """The ``agi_*`` variables up to the blank line."""
    env: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        raw = await reader.readline()
        if not raw:
            raise AgiProtocolError("connection closed before the header ended")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if not env:
                raise AgiProtocolError("empty header")
            return env
        key, value = parse_header_line(line)
        env[key] = value
    raise AgiProtocolError("header too long")

"""A fake Asterisk Manager Interface at the TCP edge, for unit tests: login,
Ping and QueueSummary, and a switch to go silent (AMI away)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from agi_app.core.shedding.load import QueueLoad


@dataclass
class FakeAmi:
    queues: dict[str, QueueLoad] = field(default_factory=dict)
    server: asyncio.Server | None = None
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """AMI away: the port closed, every connection cut."""
        if self.server is not None:
            self.server.close()
            self.server = None
        for w in self.writers:
            w.close()
        self.writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.split(": ", 1)
                    for line in raw.decode().strip().split("\r\n")
                    if ": " in line
                )
                writer.write(self._answer(headers).encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _answer(self, h: dict[str, str]) -> str:
        aid = h.get("ActionID", "")
        action = h.get("Action", "").lower()
        if action == "login":
            return (
                f"Response: Success\r\nActionID: {aid}\r\nMessage: Authentication accepted\r\n\r\n"
            )
        if action == "queuesummary":
            out = f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n\r\n"
            for name, q in self.queues.items():
                out += (
                    f"Event: QueueSummary\r\nQueue: {name}\r\nLoggedIn: {q.logged_in}\r\n"
                    f"Available: {q.available}\r\nCallers: {q.waiting}\r\nHoldTime: 0\r\n"
                    f"TalkTime: 0\r\nLongestHoldTime: {q.longest_hold_s}\r\nActionID: {aid}\r\n\r\n"
                )
            return out + (
                f"Event: QueueSummaryComplete\r\nEventList: Complete\r\n"
                f"ListItems: {len(self.queues)}\r\nActionID: {aid}\r\n\r\n"
            )
        return f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n\r\n"

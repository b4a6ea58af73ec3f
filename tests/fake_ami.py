"""A fake Asterisk Manager Interface at the TCP edge, for unit tests: login,
Ping and QueueSummary, the CLI commands `dialplan reload` and `dialplan show`
(read from the snippets in ``extensions_d``), and a switch to go silent (AMI
away)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path

from agi_app.core.shedding.load import QueueLoad


@dataclass
class FakeAmi:
    queues: dict[str, QueueLoad] = field(default_factory=dict)
    server: asyncio.Server | None = None
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0
    extensions_d: Path | None = None  # where `dialplan show` finds the installed snippets

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
        if action == "command":
            output = "".join(f"Output: {line}\r\n" for line in self._command(h.get("Command", "")))
            return (
                f"Response: Success\r\nActionID: {aid}\r\nMessage: Command output follows\r\n"
                f"{output}\r\n"
            )
        return f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n\r\n"

    def _command(self, cli: str) -> list[str]:
        """A CLI command's output lines, as Asterisk 22 words them."""
        if cli == "dialplan reload":
            return ["Dialplan reloaded."]
        name = cli.removeprefix("dialplan show ")
        if name == cli or self.extensions_d is None:
            return [
                f"No such command '{cli}' (type 'core show help {cli}' for other possible commands)"
            ]
        text = "\n".join(p.read_text() for p in sorted(self.extensions_d.glob("*.conf")))
        for section in re.split(r"^(?=\[)", text, flags=re.M):
            if section.startswith(f"[{name}]"):
                extens = re.findall(r"^exten\s*=>\s*([^,]+),", section, flags=re.M)
                return [
                    f"[ Context '{name}' created by 'pbx_config' ]",
                    *(f"  '{e}' => 1. NoOp()  [pbx_config]" for e in extens),
                ]
        return [f"There is no existence of '{name}' context"]

"""The floor: the bench call's ARI messages made by the least Python that can
make them, for the bench's "floor" row.

Same websocket client (picows), JSON (orjson), event filter and globals as the
app, and the same requests per bench call: play the greeting; on digit 1 stop it
and play the announcement; when the announcement ends, hang up (cause 16). No
lookup, no journey, no flow, no call task: the app's CPU per call above this
row's is what those layers cost (docs/PERF-GAP.md).

Run: ``python -m agi_app.tools.bench.floor`` (the bench starts it for the row).
It touches ``AGI_APP_FLOOR_READY`` (a path) once Asterisk has taken the event
filter and the globals.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agi_app.adapters.ari import jsonio, wsconn
from agi_app.adapters.ari.events import USED_TYPES
from agi_app.adapters.ari.rest import auth_header
from agi_app.adapters.ari.stream import events_url
from agi_app.adapters.ari.wsrest import rest_request
from agi_app.settings import Settings, get_settings
from agi_app.tools.appproc import CLI, AppProcess

GREETING = "sound:agi_app/static/bench_greeting"
ANNOUNCEMENT = "sound:agi_app/static/bench_announcement"
READY_ENV = "AGI_APP_FLOOR_READY"
Query = tuple[tuple[str, str], ...]
Request = tuple[str, str, Query, Any]  # method, uri (no leading /), query, JSON body


def setup_requests(app: str) -> list[Request]:
    """What the app asks once connected: its event filter and the globals the
    dialplan reads (answer before Stasis; not draining)."""
    body = {"allowed": [{"type": t} for t in USED_TYPES], "disallowed": []}
    return [
        ("PUT", f"applications/{app}/eventFilter", (), body),
        ("POST", "asterisk/variable", (("variable", "AGI_APP_ANSWER"), ("value", "1")), None),
        ("POST", "asterisk/variable", (("variable", "AGI_APP_DRAINING"), ("value", "0")), None),
    ]


def reply(event: dict[str, Any]) -> list[Request]:
    """The requests the bench call needs after ``event``; none for the rest."""
    kind = event.get("type")
    if kind == "StasisStart":
        ch = event["channel"]["id"]
        return [
            ("POST", f"channels/{ch}/play", (("media", GREETING), ("playbackId", f"g-{ch}")), None)
        ]
    if kind == "ChannelDtmfReceived" and event.get("digit") == "1":
        ch = event["channel"]["id"]
        return [
            ("DELETE", f"playbacks/g-{ch}", (), None),
            (
                "POST",
                f"channels/{ch}/play",
                (("media", ANNOUNCEMENT), ("playbackId", f"a-{ch}")),
                None,
            ),
        ]
    if kind == "PlaybackFinished":
        playback = str(event["playback"]["id"])
        if playback.startswith("a-"):
            return [("DELETE", f"channels/{playback[2:]}", (("reason_code", "16"),), None)]
    return []


def encode(request: Request, request_id: str) -> str:
    """``request`` as a RESTRequest message on the event websocket."""
    method, uri, query, body = request
    return rest_request(request_id, method, uri, query, body)


class Floor:
    """Answers events with ``reply``; counts the setup answers still due."""

    def __init__(self, on_ready: Callable[[list[str]], None]) -> None:
        self.send: Callable[[str], None] = _not_connected  # the socket's, once open
        self._on_ready = on_ready
        self._ids: Iterator[int] = itertools.count(1)
        self._setup: set[str] = set()
        self.failed_setup: list[str] = []

    def request(self, req: Request) -> str:
        rid = f"f{next(self._ids)}"
        self.send(encode(req, rid))
        return rid

    def start(self, app: str) -> None:
        self._setup = {self.request(req) for req in setup_requests(app)}

    def on_text(self, data: bytes | str) -> None:
        event = jsonio.loads(data)
        if event.get("type") == "RESTResponse":
            rid = event.get("request_id")
            if rid in self._setup:
                self._setup.discard(rid)
                if int(event.get("status_code", 0)) >= 300:
                    self.failed_setup.append(f"{event.get('uri')}: {event.get('status_code')}")
                if not self._setup:
                    self._on_ready(self.failed_setup)
            return
        for req in reply(event):
            self.request(req)


async def serve(s: Settings, ready_file: Path | None) -> int:
    """Connect, set up, answer calls until the connection closes; 1 if the setup failed."""
    done: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()

    def on_ready(failed: list[str]) -> None:
        if not done.done():
            done.set_result(failed)

    floor = Floor(on_ready)
    url = events_url(s.ari_base, s.ari_app)
    headers = {"Authorization": auth_header(s.ari_user, s.ari_password.get_secret_value())}
    async with wsconn.connect("picows", url, headers, floor.on_text, _no_session) as conn:
        assert conn.send_now is not None  # picows writes at once
        floor.send = conn.send_now
        floor.start(s.ari_app)
        failed = await asyncio.wait_for(done, timeout=10)
        if failed:
            print(f"floor: setup refused: {failed}", file=sys.stderr)
            return 1
        if ready_file is not None:
            ready_file.touch()
        print("floor: ready", flush=True)
        await conn.wait_closed()
    return 0


class FloorProcess(AppProcess):
    """The floor as the bench's app process: ready once it has touched its ready
    file; no admin endpoint, so no figures of its own (CPU comes from /proc)."""

    def __init__(self, settings: Settings, log_path: Path, env: dict[str, str] | None = None):
        self.ready_file = log_path.with_name(log_path.name + ".ready")
        super().__init__(settings, log_path, {**(env or {}), READY_ENV: str(self.ready_file)})
        self.command = [str(CLI.with_name("python")), "-m", "agi_app.tools.bench.floor"]

    def launch(self, extra_env: dict[str, str] | None = None) -> None:
        self.ready_file.unlink(missing_ok=True)
        super().launch(extra_env)

    def is_ready(self) -> bool:
        return self.ready_file.exists()

    async def metrics(self, reset: bool = False) -> dict[str, Any]:
        return {}


def _not_connected(_text: str) -> None:
    raise ConnectionError("the floor's websocket is not open yet")


def _no_session() -> Any:
    raise RuntimeError("the floor uses picows only")


def _realtime(priority: int) -> None:
    if priority:
        with contextlib.suppress(PermissionError, OSError):
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(priority))


def main() -> int:
    s = get_settings()
    _realtime(s.realtime_priority)
    ready = os.environ.get(READY_ENV)
    if s.uvloop:
        import uvloop

        return uvloop.run(serve(s, Path(ready) if ready else None))
    return asyncio.run(serve(s, Path(ready) if ready else None))


if __name__ == "__main__":
    sys.exit(main())

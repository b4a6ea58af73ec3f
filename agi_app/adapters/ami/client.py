"""A thin AMI client on panoramisk 1.4.

panoramisk reconnects by itself after an Asterisk restart, but ``connect()``
returns before the login completes: ``connect`` here waits for the login.
Actions that panoramisk would otherwise never resolve (QueueAdd) are sent
with ``as_list=False`` by default; list actions pass ``as_list=True``.
panoramisk's ``close()`` leaves a reconnect scheduled (its ``connection_lost``
always redials), so a closed manager would redial forever: ``_Manager`` stops
that.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from agi_app.settings import Settings

log = logging.getLogger(__name__)


MAX_PENDING_BYTES = 4_000_000  # one AMI message (a long Command output) fits well inside


class _BoundedProtocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk keeps every byte until a blank line ends a message: a peer that
    never sends one would grow that buffer forever. Past the cap, hang up."""

    def data_received(self, data: bytes) -> None:
        pending = sum(len(part) for part in self.queue) + len(data)
        if pending > MAX_PENDING_BYTES:
            log.error("AMI: %d bytes without a message end; closing the connection", pending)
            self.queue.clear()
            self.transport.close()
            return
        super().data_received(data)


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager that stays closed once closed."""

    closed = False

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.closed:
            return None
        return super().connect(*args, **kwargs)

    def connection_made(self, f: Any) -> None:
        if self.closed:  # a dial that was under way when we closed
            if not f.cancelled() and f.exception() is None:
                f.result()[0].close()
            return
        super().connection_made(f)

    def close(self) -> None:
        self.closed = True
        super().close()


class AmiError(RuntimeError):
    """AMI refused an action or did not answer in time."""


class Ami:
    """One AMI connection, logged in."""

    def __init__(self, s: Settings, *, events: bool = False) -> None:
        self._settings = s
        self._events = events
        self._logged_in = asyncio.Event()
        self.manager: Any = None

    async def connect(self, timeout: float = 10) -> None:
        """Connect and wait for the login to finish."""
        s = self._settings
        self.close()  # a manager left from an earlier connection would redial on its own
        self._logged_in.clear()
        self.manager = _Manager(
            loop=asyncio.get_running_loop(),
            host=s.bind_address,
            port=s.ami_port,
            username=s.ami_user,
            secret=s.ami_password.get_secret_value(),
            events="on" if self._events else "off",
            ping_delay=5,
            reconnect_timeout=1,
            on_login=lambda _m: self._logged_in.set(),
            protocol_factory=_BoundedProtocol,
            on_disconnect=lambda _m, _e: self._logged_in.clear(),
        )
        self.manager.connect()
        try:
            async with asyncio.timeout(timeout):
                await self._logged_in.wait()
        except TimeoutError as exc:
            self.close()
            raise AmiError(f"AMI login to {s.bind_address}:{s.ami_port} timed out") from exc

    @property
    def ready(self) -> bool:
        return self._logged_in.is_set()

    async def action(
        self, action: dict[str, str], *, as_list: bool = False, timeout: float = 10
    ) -> Any:
        """Send an action; return the response (a list when ``as_list``)."""
        if self.manager is None or not self.ready:
            raise AmiError("AMI is not connected")
        try:
            async with asyncio.timeout(timeout):
                return await self.manager.send_action(action, as_list=as_list)
        except TimeoutError as exc:
            raise AmiError(f"AMI {action.get('Action')} timed out") from exc

    async def command(self, cli: str) -> str:
        """Run a CLI command over AMI; return its output text."""
        resp = await self.action({"Action": "Command", "Command": cli})
        out = resp.get("Output") if hasattr(resp, "get") else None
        if isinstance(out, list):
            return "\n".join(out)
        return str(out or "")

    def close(self) -> None:
        if self.manager is not None:
            self.manager.close()
            self.manager = None

"""What can go wrong on a FastAGI connection.

The hierarchy::

    Exception
    ├── CallHangup                  (agi_app.callcontrol) the channel hung up: a
    │                               ``HANGUP`` line, ``result=-1``, ``511``, or
    │                               Asterisk closed the connection. No command is
    │                               sent after it.
    └── AgiError                    anything else on the AGI connection
        ├── AgiProtocolError        the peer does not speak AGI: garbage, a line
        │                           over the limit, too many header lines, a reply
        │                           we cannot parse. The connection is unusable.
        ├── AgiTimeout              no reply (or no header) before the deadline.
        │                           Also a TimeoutError. The connection is
        │                           unusable: a late reply would answer the
        │                           next command.
        ├── AgiCommandError         Asterisk refused one command (510 unknown
        │                           command, 520 wrong usage). The connection is
        │                           still in step and usable.
        ├── AgiUnsafeCommand        we refused to send a command line: a control
        │                           character or more than Asterisk's 2 KB
        │                           command buffer would let text from a caller
        │                           start a second command. Also a ValueError.
        │                           Nothing was sent.
        └── RouteFailed             a handler's way to end its request with
                                    AGI_APP_STATUS=FAILURE without a traceback.
"""

from __future__ import annotations


class AgiError(Exception):
    """Base of the FastAGI errors (CallHangup stands apart: it is a call outcome)."""


class AgiProtocolError(AgiError):
    """The peer sent something that is not AGI; the connection is dropped."""


class AgiTimeout(AgiError, TimeoutError):
    """No reply before the deadline; the connection is out of step and dropped."""


class AgiCommandError(AgiError):
    """Asterisk answered a command with 510 or 520 (the connection stays usable)."""

    def __init__(self, code: int, message: str, usage: str = "") -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.usage = usage


class AgiUnsafeCommand(AgiError, ValueError):
    """A command line that could inject a second command; it was not sent."""


class RouteFailed(AgiError):
    """Raised by a handler: end the request with FAILURE, log ``reason`` only."""

    def __init__(self, reason: str, error: str = "route-failed") -> None:
        super().__init__(reason)
        self.error = error  # the AGI_APP_ERROR value the dialplan sees

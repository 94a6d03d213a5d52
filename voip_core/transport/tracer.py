"""SIP wire tracing: raw messages go to an injected tracer, never to log lines.

Like sipgo's ``SIPTracer``. Credentials are redacted before a tracer sees them:
``Authorization`` and ``Proxy-Authorization`` values keep only their scheme and username.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Final, Protocol

from voip_core.sip.peer import Peer

__all__ = ["LoggingTracer", "NullTracer", "RecordingTracer", "SipTracer", "TraceRecord", "redact"]

# The value runs to the end of the line, plus any folded continuation lines (RFC 3261
# §7.3.1). No "$": with MULTILINE it matches only before "\n", never before a CRLF.
_CREDENTIAL_RE: Final = re.compile(
    rb"^((?:proxy-)?authorization[ \t]*:[ \t]*\S+)([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)",
    re.IGNORECASE | re.MULTILINE,
)
_USERNAME_RE: Final = re.compile(rb'username[ \t]*=[ \t]*("[^"]*"|[^,\s]+)', re.IGNORECASE)


def redact(data: bytes) -> bytes:
    """Replace digest responses and other credential material with ``<redacted>``."""

    def _keep_username(match: re.Match[bytes]) -> bytes:
        user = _USERNAME_RE.search(match.group(2))
        shown = b" " + user.group(0) + b"," if user else b""
        return match.group(1) + shown + b" <redacted>"

    return _CREDENTIAL_RE.sub(_keep_username, data)


class SipTracer(Protocol):
    """Receives every SIP message read from or written to the wire."""

    def received(self, data: bytes, peer: Peer, local: tuple[str, int]) -> None:
        """``data`` arrived from ``peer`` on local address ``local``."""

    def sent(self, data: bytes, peer: Peer, local: tuple[str, int]) -> None:
        """``data`` was written to ``peer`` from local address ``local``."""


class NullTracer:
    """A tracer that records nothing (the default)."""

    def received(self, data: bytes, peer: Peer, local: tuple[str, int]) -> None:
        """Ignore the message."""

    def sent(self, data: bytes, peer: Peer, local: tuple[str, int]) -> None:
        """Ignore the message."""


class LoggingTracer:
    """Writes redacted wire dumps to the ``ronghe.wire`` logger at DEBUG level."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger("ronghe.wire")

    def received(self, data: bytes, peer: Peer, local: tuple[str, int]) -> None:
        """Log an incoming message."""
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug(
                "recv %d bytes %s -> %s:%d\n%s",
                len(data),
                peer,
                local[0],
                local[1],
                redact(data).decode("utf-8", "replace"),
            )

    def sent(self, data: bytes, peer: Peer, local: tuple[str, int]) -> None:
        """Log an outgoing message."""
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug(
                "send %d bytes %s:%d -> %s\n%s",
                len(data),
                local[0],
                local[1],
                peer,
                redact(data).decode("utf-8", "replace"),
            )


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One traced message."""

    direction: str
    """``"recv"`` or ``"send"``."""
    data: bytes
    peer: Peer
    local: tuple[str, int]


@dataclass
class RecordingTracer:
    """Keeps redacted copies of every message, for tests."""

    records: list[TraceRecord] = field(default_factory=list)

    def received(self, data: bytes, peer: Peer, local: tuple[str, int]) -> None:
        """Record an incoming message."""
        self.records.append(TraceRecord("recv", redact(data), peer, local))

    def sent(self, data: bytes, peer: Peer, local: tuple[str, int]) -> None:
        """Record an outgoing message."""
        self.records.append(TraceRecord("send", redact(data), peer, local))

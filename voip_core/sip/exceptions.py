"""Errors of the SIP core.

::

    SipError
    ├── ProtocolError                 (carries status_code and reason for a SIP reply)
    │   ├── LocalProtocolError        our bug or misuse of the API
    │   └── RemoteProtocolError       a peer sent something we cannot accept
    │       └── ParseError            malformed bytes, header or URI
    └── TransactionError              misuse of a transaction engine (wrong state for input)

Every error that can become a SIP reply carries ``status_code`` and ``reason``; adapters
turn a ``RemoteProtocolError`` into that reply when a response can be formed (RFC 3261
§8.2 / §16.3), and drop the message silently when it cannot
(:func:`~voip_core.sip.reply.make_error_response` decides which).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voip_core.sip.headers import Header

__all__ = [
    "LocalProtocolError",
    "ParseError",
    "ProtocolError",
    "RemoteProtocolError",
    "SipError",
    "TransactionError",
]


class SipError(Exception):
    """Root of every error raised by the SIP core."""


class ProtocolError(SipError):
    """A message violates RFC 3261; ``status_code``/``reason`` say how to answer it."""

    def __init__(self, message: str, *, status_code: int = 400, reason: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        #: Reason phrase for the SIP reply; defaults to the message itself so the peer
        #: learns what was wrong (RFC 3261 §21.4.1 allows any reason phrase).
        self.reason = reason if reason is not None else message


class LocalProtocolError(ProtocolError):
    """We tried to build or send something invalid."""


class RemoteProtocolError(ProtocolError):
    """A peer sent something invalid."""


class ParseError(RemoteProtocolError):
    """Malformed SIP: a start line, header, URI or body framing that does not parse.

    When the header block could be split before the error, the parser fills
    ``raw_headers``, ``is_request`` and ``method`` so that a 400 can still be formed.
    """

    raw_headers: tuple[Header, ...] = ()
    is_request: bool = False
    method: str | None = None


class TransactionError(SipError):
    """An input a transaction state machine has no transition for."""

"""Counts of the SIP messages a node handles: requests by method, responses by class.

The node adapter counts each message once, where it is parsed (received) or serialised
(sent); a message another worker read and passed on is counted by the worker that
handles it. Labels are a closed set so that a peer sending made-up methods cannot grow
the tables (and the metrics' label sets) without bound: methods outside
:data:`METHODS` count as ``other``.
"""

from __future__ import annotations

from typing import Final

from voip_core.sip.message import Request, Response
from voip_core.sip.parser import REGISTERED_METHODS

__all__ = ["METHODS", "RESPONSE_CLASSES", "TrafficCounters", "response_class"]

#: Methods counted by name: those of the IANA registry the parser knows, in name order.
METHODS: Final = tuple(sorted(REGISTERED_METHODS))
#: RFC 3261 §7.2: the first digit of a status code is its class.
RESPONSE_CLASSES: Final = ("1xx", "2xx", "3xx", "4xx", "5xx", "6xx")


def response_class(status_code: int) -> str:
    """``"2xx"`` for 200-299 and so on."""
    return f"{status_code // 100}xx" if 100 <= status_code <= 699 else "other"


class TrafficCounters:
    """Requests received by method; responses received and sent by class."""

    __slots__ = ("requests_received", "responses_received", "responses_sent")

    def __init__(self) -> None:
        #: Requests received, by method (``other`` for methods not in :data:`METHODS`).
        self.requests_received: dict[str, int] = {}
        #: Responses received, by class (``"2xx"``).
        self.responses_received: dict[str, int] = {}
        #: Responses sent (answered here or forwarded upstream), by class.
        self.responses_sent: dict[str, int] = {}

    def received(self, message: Request | Response) -> None:
        """Count a parsed message that arrived."""
        if isinstance(message, Request):
            method = message.method if message.method in REGISTERED_METHODS else "other"
            table = self.requests_received
            table[method] = table.get(method, 0) + 1
        else:
            label = response_class(message.status_code)
            table = self.responses_received
            table[label] = table.get(label, 0) + 1

    def sent(self, message: Request | Response) -> None:
        """Count a message being sent (only responses are counted)."""
        if isinstance(message, Response):
            label = response_class(message.status_code)
            table = self.responses_sent
            table[label] = table.get(label, 0) + 1

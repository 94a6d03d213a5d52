"""What the transaction layer tells its transaction user, and what it asks the transport to send.

Events are drained with :meth:`~voip_core.transaction.TransactionLayer.next_event`, like
aioquic's ``quic/events.py``; outbound messages with
:meth:`~voip_core.transaction.TransactionLayer.messages_to_send`.
"""

from __future__ import annotations

from dataclasses import dataclass

from voip_core.sip.message import Request, Response
from voip_core.sip.peer import Peer
from voip_core.transaction.keys import ClientKey, ServerKey

__all__ = [
    "AckReceived",
    "Event",
    "Outbound",
    "RequestReceived",
    "ResponseReceived",
    "StrayResponse",
    "TransactionTerminated",
    "TransactionTimeout",
    "TransportErrorOccurred",
]


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message for the transport to send."""

    message: Request | Response
    """The request or response, ready to serialise."""
    destination: Peer
    """Where it goes: the client transaction's destination, or the source of the request a
    server transaction answers (the transport applies §18.2.2 / RFC 3581 from there)."""
    key: ClientKey | ServerKey | None = None
    """The transaction sending it, for ``transport_error(key=...)`` when sending fails;
    ``None`` for :meth:`~voip_core.transaction.TransactionLayer.send_stateless`."""


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request created a server transaction; the TU must answer through ``key``."""

    key: ServerKey
    """The new server transaction."""
    request: Request
    """The request as received."""
    source: Peer
    """Where it came from."""


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK for a 2xx: it matched no transaction, or an INVITE one in Accepted (RFC 6026)."""

    request: Request
    """The ACK as received."""
    source: Peer
    """Where it came from."""


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response the client transaction passes up to the TU (§17.1.1.2, §17.1.2.2)."""

    key: ClientKey
    """The client transaction it belongs to."""
    response: Response
    """The response as received."""


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A response that matched no client transaction (§18.1.2: the core handles it)."""

    response: Response
    """The response as received."""
    source: Peer
    """Where it came from."""


@dataclass(frozen=True, slots=True)
class TransactionTimeout:
    """Timer B or F fired (client: the TU acts as if a 408 arrived, §8.1.3.1), or Timer H
    fired (server: the ACK never came, §17.2.1)."""

    key: ClientKey | ServerKey
    """The transaction that timed out; it terminates right after."""


@dataclass(frozen=True, slots=True)
class TransportErrorOccurred:
    """The transport failed to send for this transaction (§17.1.4, §17.2.4); a client TU
    acts as if a 503 arrived (§8.1.3.1) unless it already has a final response."""

    key: ClientKey | ServerKey
    """The affected transaction; it terminates right after."""


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """The transaction was destroyed; its key is free and it will produce nothing more."""

    key: ClientKey | ServerKey
    """The destroyed transaction."""


Event = (
    RequestReceived
    | AckReceived
    | ResponseReceived
    | StrayResponse
    | TransactionTimeout
    | TransportErrorOccurred
    | TransactionTerminated
)

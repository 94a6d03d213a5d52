"""Where a message came from or goes to: transport, address and (for streams) connection.

RFC sections covered: RFC 3261 §17.1.1.2 / §18 (reliable vs unreliable transports),
RFC 7118 (WebSocket transports named ws/wss). Left out: SCTP specifics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["RELIABLE_TRANSPORTS", "Peer"]

#: Transports on which RFC 3261 §17 timers A, E and G do not retransmit.
RELIABLE_TRANSPORTS: Final = frozenset({"tcp", "tls", "ws", "wss", "sctp"})


@dataclass(frozen=True, slots=True)
class Peer:
    """A remote transport address, as seen by our sockets."""

    transport: str
    """Lower-case transport name: ``udp``, ``tcp``, ``tls``, ``ws`` or ``wss``."""
    host: str
    """IP address (no brackets for IPv6)."""
    port: int
    connection_id: int | None = None
    """For connection-oriented transports, the connection the message arrived on or
    should leave on; ``None`` lets the transport find or open one."""

    @property
    def reliable(self) -> bool:
        """Whether the transport is reliable (no retransmissions, RFC 3261 §17.1.1.2)."""
        return self.transport in RELIABLE_TRANSPORTS

    @property
    def host_port(self) -> str:
        """``host:port`` with IPv6 addresses bracketed."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.transport}:{self.host_port}"

"""Proxy configuration: who we are and what we allow. Frozen, passed in explicitly."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

__all__ = ["ListenAddress", "ProxyConfig"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """An address we listen on and advertise in Via and Record-Route."""

    transport: str
    """``udp`` or ``tcp`` (later ``tls``, ``ws``, ``wss``)."""
    host: str
    """The advertised host: an IP address (no brackets) or a name."""
    port: int

    @property
    def host_port(self) -> str:
        """``host:port`` with IPv6 bracketed."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """What the proxy and registrar serve."""

    domain: str
    """The SIP domain (also the digest realm)."""
    listen: tuple[ListenAddress, ...]
    aliases: frozenset[str] = frozenset()
    """Other hosts that mean "us": our IP addresses, host names. Lower case."""
    record_route: bool = True
    require_authentication: bool = True
    trusted_networks: tuple[IPNetwork, ...] = ()
    """Sources whose requests are not challenged (carrier gateways, test load generators)."""
    timer_c: float = 180.0
    """RFC 3261 §16.6 step 11: greater than 3 minutes."""
    default_max_forwards: int = 70
    user_agent: str = "Ronghe"
    supported: frozenset[str] = field(
        default_factory=lambda: frozenset({"path", "gruu", "outbound"})
    )
    """Option tags we implement as a registrar/UAS (RFC 3261 §8.2.2.3)."""
    proxy_supported: frozenset[str] = frozenset()
    """Option tags we implement as a proxy (Proxy-Require, RFC 3261 §16.3 step 5)."""

    def is_local_host(self, host: str) -> bool:
        """Whether ``host`` (from a URI or Via) designates this proxy."""
        lowered = host.lower().strip("[]")
        return lowered == self.domain.lower() or lowered in self.aliases

    def is_trusted(self, host: str) -> bool:
        """Whether a source IP lies in a trusted network."""
        if not self.trusted_networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted_networks)

    def listen_for(self, transport: str, ipv6: bool) -> ListenAddress:
        """The advertised address for ``transport`` and address family."""
        fallback: ListenAddress | None = None
        for address in self.listen:
            if address.transport == transport:
                if (":" in address.host) == ipv6:
                    return address
                fallback = fallback or address
        if fallback is not None:
            return fallback
        return self.listen[0]

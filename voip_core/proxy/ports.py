"""What the proxy needs from the rest of the platform, as values and Protocols.

The proxy core is pure: the location service, the numbering plan, the authenticator and
the registrar reach it only through these ports, implemented by adapters that the
composition root wires in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dialplan.engine import CallerContext, RouteDecision
from voip_core.registrar.authentication import Authenticated, Authenticator, Challenge
from voip_core.sip.message import Request, Response
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri, Uri

__all__ = [
    "Authenticated",
    "Authenticator",
    "Challenge",
    "ContactTarget",
    "Location",
    "RegistrarPort",
    "Router",
]


@dataclass(frozen=True, slots=True)
class ContactTarget:
    """A registered contact the proxy can fork to."""

    uri: Uri
    """The Contact URI as registered; becomes the Request-URI of the branch."""
    destination: Peer
    """The flow the contact registered over (source address, connection)."""
    path: tuple[str, ...] = ()
    q: float | None = None
    unreachable: tuple[int, str] | None = None
    """The final response (code, reason) for a destination that cannot be reached, in
    place of §16.9's 503 (another cluster node's flow, :mod:`voip_core.proxy.nodes`)."""


class Location(Protocol):
    """The location service (RFC 3261 §10, §16.5)."""

    def lookup(self, aor: str, now: float) -> Sequence[ContactTarget]:
        """Unexpired contacts of ``aor`` (canonical ``sip:user@domain``), best q first."""
        ...

    def lookup_gruu(self, uri: SipUri, now: float) -> Sequence[ContactTarget] | None:
        """Contacts for a GRUU (RFC 5627), or ``None`` when ``uri`` is not a GRUU of ours."""
        ...


class Router(Protocol):
    """The numbering plan, as the pure ``route()`` over the live compiled plan."""

    def route(self, dialed: str, caller: CallerContext, at: datetime) -> RouteDecision:
        """Decide where ``dialed`` goes for ``caller``."""
        ...


class RegistrarPort(Protocol):
    """Handles a REGISTER addressed to our domain, authentication included."""

    def register(self, request: Request, *, source: Peer, now: float) -> Response:
        """Process ``request`` and return the response to send."""
        ...

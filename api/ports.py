"""What the admin API needs from the SIP side, as Protocols the composition root fills.

The API never imports the SIP core (an import-linter contract); the SIP process
hands in objects satisfying these ports. The API calls them from its worker threads,
so implementations must be thread-safe: return snapshots, swap references atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dialplan.engine import NumberingPlan

__all__ = ["CallView", "PlanSource", "RegistrationSource", "RegistrationView"]


class PlanSource(Protocol):
    """The live numbering plan the proxy routes with."""

    def current(self) -> NumberingPlan:
        """Return the plan in use now (the route test routes with it)."""
        ...

    def reload_now(self) -> None:
        """Rebuild the plan from storage at once; called after every committed write.

        On failure the implementation keeps the old plan and raises; the API logs the
        error and still reports the write as done, since it is committed.
        """
        ...


@dataclass(frozen=True, slots=True)
class RegistrationView:
    """One contact bound to an extension by REGISTER (RFC 3261 §10)."""

    extension: str
    """The address-of-record's user part: the extension number."""
    contact: str
    """The Contact URI the phone registered."""
    transport: str
    """``udp``, ``tcp``, ``tls``, ``ws`` or ``wss``."""
    source: str
    """The address the REGISTER came from, ``ip:port``."""
    user_agent: str
    """The phone's User-Agent header; empty when it sent none."""
    expires_at: datetime
    """When the binding lapses, UTC."""
    q: float
    """The contact's preference, 0.0-1.0 (RFC 3261 §10.2.1.2)."""


@dataclass(frozen=True, slots=True)
class CallView:
    """A call in progress through the proxy."""

    call_id: str
    caller: str
    """Calling number (extension, or the number a trunk presented)."""
    callee: str
    """Dialed number."""
    state: str
    """E.g. ``ringing``, ``answered``."""
    started_at: datetime
    """When the INVITE arrived, UTC."""


class RegistrationSource(Protocol):
    """The registrar's bindings and the proxy's calls, read-only."""

    def registrations(self, extension: str | None = None) -> Sequence[RegistrationView]:
        """Return the current bindings, of one extension when ``extension`` is given."""
        ...

    def active_calls(self) -> Sequence[CallView]:
        """Return the calls in progress."""
        ...

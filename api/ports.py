"""What the admin API needs from the SIP side, as Protocols the composition root fills.

The API never imports the SIP core (an import-linter contract); the SIP process
hands in objects satisfying these ports. The API calls them from its worker threads,
so implementations must be thread-safe: return snapshots, swap references atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dialplan.engine import NumberingPlan

__all__ = [
    "CallView",
    "PlanSource",
    "RegistrationSource",
    "RegistrationView",
    "SecurityBlockSource",
    "SecurityBlockView",
    "StatsSource",
    "StatsView",
]


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


@dataclass(frozen=True, slots=True)
class StatsView:
    """The SIP side's counters, summed over its worker processes.

    Counters (``_total`` in the metrics) count since the process started; the others
    are levels now. Every labelled mapping lists each of its labels, zero included.
    """

    workers: int
    """SIP worker processes."""
    registered_contacts: int
    """Contacts bound by REGISTER."""
    transactions: int
    """Live SIP transactions (RFC 3261 §17), lingering ones included."""
    response_contexts: int
    """Forwarded requests awaiting their final response (RFC 3261 §16.7)."""
    calls_in_progress: int
    """Calls ringing or answered through the proxy."""
    calls: Mapping[str, int]
    """Calls ended, by outcome (``answered``, ``busy``, ``no_answer``, ...)."""
    sip_requests: Mapping[str, int]
    """Requests received, by method (``other`` for unusual methods)."""
    sip_responses: Mapping[str, int]
    """Responses sent (answered here or forwarded upstream), by class (``2xx``)."""
    sip_responses_received: Mapping[str, int]
    """Responses received from downstream, by class."""
    malformed_messages: int
    """Messages that did not parse (answered 400 or dropped)."""
    requests_shed: Mapping[str, int]
    """New requests refused under overload or by the rate limit, by reason."""
    messages_forwarded: int
    """Messages one worker passed to the worker owning their call or extension."""
    auth_failures: int
    """Wrong digest answers (wrong password, unknown or disabled user)."""
    auth_blocks: int
    """Sources blocked for one user after repeated authentication failures."""
    rate_blocks: int
    """Sources blocked for sending requests too fast."""
    blocked_sources: int
    """Blocks in force now."""
    plan_version: int
    """Version of the numbering plan the proxy routes with."""
    plan_loaded_at: datetime | None
    """When that plan was last loaded, UTC."""
    plan_reload_failures: int
    """Plan reloads that failed (the plan did not compile or the database did not answer)."""


class StatsSource(Protocol):
    """The counters of the SIP side, gathered without blocking its event loop."""

    async def stats(self) -> StatsView:
        """Return the counters now; awaited on the event loop the API runs on."""
        ...


@dataclass(frozen=True, slots=True)
class SecurityBlockView:
    """A source address the SIP guard refuses (issue #9)."""

    id: str
    source: str
    """The IP address refused."""
    user: str | None
    """The user it may not authenticate as; ``None``: every request (rate limit)."""
    reason: str
    """``auth-failures`` or ``rate-limit``."""
    since: datetime
    until: datetime
    failures: int
    """Failed authentications, or requests in the sampling window."""


class SecurityBlockSource(Protocol):
    """The blocks in force in every SIP process, and lifting them."""

    def active_blocks(self) -> Sequence[SecurityBlockView]:
        """Return the blocks in force, oldest first."""
        ...

    def lift(self, block_id: str) -> SecurityBlockView | None:
        """End a block in every process; ``None`` when no such block is in force."""
        ...

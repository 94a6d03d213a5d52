"""Digest authentication of requests for the proxy (407) and the registrar (401).

With a :class:`~voip_core.guard.Guard`, a source that answered a user's challenges wrongly
too often is refused as that user with 403 (issue #9): the request's credentials name the
user, its source address the source. Requests without credentials for our realm and
stale nonces are challenged as usual and never count (see :mod:`voip_core.guard.guard`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from voip_core.guard import Guard, escape_user
from voip_core.sip.digest import (
    CHALLENGE_ALGORITHMS,
    AuthStatus,
    DigestAlgorithm,
    Ha1Lookup,
    NonceManager,
    authenticate,
    build_challenges,
    parse_authorization,
    serialize_challenge,
)
from voip_core.sip.exceptions import ParseError
from voip_core.sip.message import Request

__all__ = ["Authenticated", "Authenticator", "Challenge", "DigestAuthenticator"]


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The request carried valid credentials for ``username``."""

    username: str


@dataclass(frozen=True, slots=True)
class Challenge:
    """The request must be retried with credentials: send this 401/407; or, with 403,
    its source is refused as the user its credentials name."""

    status_code: int
    headers: tuple[tuple[str, str], ...]
    reason: str | None = None


class Authenticator(Protocol):
    """Digest authentication of requests (RFC 3261 §22, RFC 7616, RFC 8760)."""

    def authenticate(
        self, request: Request, *, proxy: bool, now: float, source: str | None = None
    ) -> Authenticated | Challenge:
        """Check ``Proxy-Authorization`` (``proxy``) or ``Authorization`` credentials
        of a request that came from the IP address ``source``."""
        ...


class DigestAuthenticator:
    """RFC 3261 §22 with RFC 7616 / RFC 8760 digests against HA1s from the numbering plan.

    Unknown users, disabled extensions and wrong passwords all get the same fresh
    challenge, so nothing reveals which extensions exist.
    """

    def __init__(
        self,
        *,
        realm: str,
        nonces: NonceManager,
        lookup_ha1: Ha1Lookup,
        algorithms: Sequence[DigestAlgorithm] = CHALLENGE_ALGORITHMS,
        guard: Guard | None = None,
    ) -> None:
        self._realm = realm
        self._nonces = nonces
        self._lookup_ha1 = lookup_ha1
        self._algorithms = tuple(algorithms)
        self._guard = guard

    def authenticate(
        self, request: Request, *, proxy: bool, now: float, source: str | None = None
    ) -> Authenticated | Challenge:
        """Check ``Proxy-Authorization`` (``proxy``) or ``Authorization`` of a request
        from ``source``; 403 when the guard refuses that source as the claimed user."""
        result = authenticate(
            request,
            realm=self._realm,
            nonces=self._nonces,
            now=now,
            lookup_ha1=self._lookup_ha1,
            proxy=proxy,
        )
        guard = self._guard
        if guard is not None and source is not None and result.username is not None:
            refused = self._guarded(guard, result.status, result.username, source, now)
            if refused is not None:
                return refused
        if result.status is AuthStatus.OK and result.username is not None:
            return Authenticated(result.username)
        return self.challenge(proxy=proxy, now=now, stale=result.status is AuthStatus.STALE)

    @staticmethod
    def _guarded(
        guard: Guard, status: AuthStatus, user: str, source: str, now: float
    ) -> Challenge | None:
        """Count a failure (FAILED: a wrong answer for our realm, or an unknown or
        disabled user; never MISSING or STALE) and refuse a blocked source with 403,
        whatever its credentials, so that a right guess during the block teaches
        nothing."""
        if status is AuthStatus.FAILED:
            block = guard.authentication_failed(user, source, now)
        else:
            block = guard.refusal(user, source, now)
            if block is None and status is AuthStatus.OK:
                guard.authentication_succeeded(user, source)
        if block is None:
            return None
        return Challenge(
            status_code=403,
            headers=(),
            reason=(
                f"Forbidden (too many failed authentications for {escape_user(user)} from {source})"
            ),
        )

    def spared_under_overload(self, request: Request, *, now: float, within: float) -> bool:
        """Whether a REGISTER is served even while new requests are refused with 503: one
        without credentials (its answer, a stateless 401, costs no more than the 503
        would, and the 503 would only put the phone's registration off) and one that
        answers a challenge issued less than ``within`` seconds before ``now`` (its first
        half was paid for)."""
        if not request.header_lines("authorization"):
            return True
        return self.answers_recent_challenge(request, now=now, within=within)

    def answers_recent_challenge(self, request: Request, *, now: float, within: float) -> bool:
        """Whether ``request`` carries credentials for a nonce we issued less than
        ``within`` seconds before ``now`` (the digest itself is not checked here)."""
        for value in request.header_lines("authorization"):
            try:
                nonce = parse_authorization(value).nonce
            except ParseError:
                continue
            if self._nonces.issued_within(nonce, within, now):
                return True
        return False

    def challenge(self, *, proxy: bool, now: float, stale: bool = False) -> Challenge:
        """A fresh 401/407 challenge offering the configured algorithms in order of
        preference, SHA-256 and MD5 by default (RFC 8760 §2.4)."""
        header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        challenges = build_challenges(
            realm=self._realm,
            nonces=self._nonces,
            now=now,
            stale=stale,
            algorithms=self._algorithms,
        )
        return Challenge(
            status_code=407 if proxy else 401,
            headers=tuple((header, serialize_challenge(c)) for c in challenges),
        )

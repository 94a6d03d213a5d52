"""The server side of digest authentication: challenges and verification (RFC 3261 §22).

Theory of operation: :func:`make_challenge_response` answers an unauthenticated request
with 401 (registrar, UAS) or 407 (proxy), one challenge per algorithm of
``CHALLENGE_ALGORITHMS``. :func:`authenticate` picks the request's credentials for our
realm and :func:`verify_credentials` checks them against the stored HA1, then the nonce:
only a correct digest can learn that its nonce is stale or replayed (``STALE``, answered
with ``stale=true``). No credentials for our realm are ``MISSING``; anything else is
``FAILED``.

A wrong password and an unknown user are indistinguishable on the wire: both end in
the same challenge (fresh nonce, ``stale`` absent) built by the same code, and the
unknown user's response is still checked against a dummy HA1 so that both paths cost
the same. Every secret comparison uses :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

from voip_core.sip.digest._private import excerpt
from voip_core.sip.digest.algorithm import (
    ALGORITHMS,
    CHALLENGE_ALGORITHMS,
    HEX_LENGTH,
    DigestAlgorithm,
    base_algorithm,
    compute_response,
)
from voip_core.sip.digest.codec import (
    DigestChallenge,
    DigestCredentials,
    parse_authorization,
    serialize_challenge,
)
from voip_core.sip.digest.nonce import NonceManager, NonceState
from voip_core.sip.exceptions import ParseError
from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.uri import parse_uri, uri_equal

__all__ = [
    "AuthResult",
    "AuthStatus",
    "Ha1Lookup",
    "authenticate",
    "build_challenges",
    "make_challenge_response",
    "verify_credentials",
]


class AuthStatus(Enum):
    """Outcome of checking a request's credentials."""

    OK = "ok"
    MISSING = "missing"
    """No credentials for our realm: challenge."""
    STALE = "stale"
    """Correct digest with an expired or replayed nonce: challenge with ``stale=true``."""
    FAILED = "failed"
    """Anything else (wrong password, unknown user, malformed): challenge afresh."""


@dataclass(frozen=True, slots=True)
class AuthResult:
    """What :func:`verify_credentials` / :func:`authenticate` decided, and why."""

    status: AuthStatus
    reason: str
    """For logs only; never sent, so that a failure reveals nothing."""
    username: str | None = None
    """The authenticated user when ``status`` is OK, else the claimed one (if any)."""

    @property
    def ok(self) -> bool:
        """Whether the credentials were accepted."""
        return self.status is AuthStatus.OK


def build_challenges(
    *,
    realm: str,
    nonces: NonceManager,
    now: float,
    stale: bool = False,
    algorithms: Sequence[DigestAlgorithm] = CHALLENGE_ALGORITHMS,
) -> list[DigestChallenge]:
    """One fresh challenge per offered algorithm, in the order given (SHA-256 first by
    default), sharing a nonce."""
    nonce = nonces.issue(now)
    opaque = nonces.opaque(nonce)
    return [
        DigestChallenge(
            realm=realm, nonce=nonce, algorithm=algorithm, opaque=opaque, qop=("auth",), stale=stale
        )
        for algorithm in algorithms
    ]


def make_challenge_response(
    request: Request,
    *,
    realm: str,
    nonces: NonceManager,
    now: float,
    stale: bool = False,
    proxy: bool = False,
    to_tag: str | None = None,
) -> Response:
    """401 with ``WWW-Authenticate`` (registrar, UAS) or 407 with ``Proxy-Authenticate``.

    The shape never depends on why authentication failed, only on ``stale``.
    """
    header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
    challenges = build_challenges(realm=realm, nonces=nonces, now=now, stale=stale)
    return make_response(
        request,
        407 if proxy else 401,
        to_tag=to_tag,
        headers=[(header, serialize_challenge(challenge)) for challenge in challenges],
    )


# A stand-in HA1 for unknown users, so that they cost the same hashing as known ones.
_DUMMY_HA1: Final = {
    "MD5": secrets.token_hex(16),
    "SHA-256": secrets.token_hex(32),
}


def verify_credentials(
    credentials: DigestCredentials,
    *,
    method: str,
    realm: str,
    ha1: str | None,
    nonces: NonceManager,
    now: float,
    request_uri: str | None = None,
) -> AuthResult:
    """Check a digest answer against the stored hex HA1 (``None`` for an unknown user).

    ``ha1`` must be for ``credentials.algorithm`` without ``-sess``. ``request_uri``, when
    given, must equal the ``uri`` parameter (RFC 7616 §3.4.6, compared per RFC 3261
    §19.1.4). On success the nonce-count is recorded, so the same answer is refused next
    time.
    """
    username = credentials.username

    def failed(reason: str) -> AuthResult:
        return AuthResult(AuthStatus.FAILED, reason, username)

    if credentials.realm != realm:
        return failed(f"realm {excerpt(credentials.realm)} is not {realm!r}")
    algorithm = ALGORITHMS.get(credentials.algorithm.lower())
    if algorithm is None:
        return failed(f"unsupported algorithm {excerpt(credentials.algorithm)}")
    if credentials.qop != "auth":
        shown = "missing" if credentials.qop is None else excerpt(credentials.qop)
        return failed(f"qop {shown}; 'auth' required")
    if credentials.nc is None or credentials.cnonce is None:
        return failed("nc and cnonce required with qop=auth")
    if request_uri is not None and not _same_uri(credentials.uri, request_uri):
        return failed(
            f"uri {excerpt(credentials.uri)} does not match Request-URI {excerpt(request_uri)}"
        )
    expected_opaque = nonces.opaque(credentials.nonce)
    if credentials.opaque is None or not hmac.compare_digest(
        credentials.opaque.encode("utf-8", "surrogateescape"), expected_opaque.encode("ascii")
    ):
        return failed("opaque missing or not the one issued with the nonce")
    base = base_algorithm(algorithm)
    known = ha1 is not None and len(ha1) == HEX_LENGTH[base]
    expected = compute_response(
        algorithm,
        ha1=(ha1 if known and ha1 is not None else _DUMMY_HA1[base]).lower(),
        nonce=credentials.nonce,
        method=method,
        uri=credentials.uri,
        qop="auth",
        nc=credentials.nc,
        cnonce=credentials.cnonce,
    )
    matches = hmac.compare_digest(
        expected.encode("ascii"), credentials.response.lower().encode("utf-8", "surrogateescape")
    )
    if not known:
        return failed(
            f"unknown user {excerpt(username)}"
            if ha1 is None
            else f"stored HA1 for {algorithm} has the wrong length"
        )
    if not matches:
        return failed(f"wrong response for user {excerpt(username)}")
    state = nonces.check(credentials.nonce, now)
    if state is NonceState.INVALID:
        return failed("nonce was not issued by us")
    if state is NonceState.EXPIRED:
        return AuthResult(AuthStatus.STALE, "nonce expired", username)
    count = credentials.nonce_count
    assert count is not None
    if not nonces.use(credentials.nonce, count, now):
        return AuthResult(
            AuthStatus.STALE, f"nc {credentials.nc} replayed or not increasing", username
        )
    return AuthResult(AuthStatus.OK, "authenticated", username)


def _same_uri(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return uri_equal(parse_uri(a), parse_uri(b))
    except ParseError:
        return False


#: Returns the stored hex HA1 of ``username`` for ``algorithm`` ("MD5" or "SHA-256"),
#: or ``None`` when the user is unknown (or has no HA1 for that algorithm).
Ha1Lookup = Callable[[str, Literal["MD5", "SHA-256"]], str | None]


def authenticate(
    request: Request,
    *,
    realm: str,
    nonces: NonceManager,
    now: float,
    lookup_ha1: Ha1Lookup,
    proxy: bool = False,
) -> AuthResult:
    """Check the request's credentials for ``realm`` (RFC 3261 §22.3 / §22.4).

    Reads ``Proxy-Authorization`` when ``proxy`` is set, else ``Authorization``; among
    several, the one for our realm counts. A malformed header counts as FAILED (the
    client is challenged afresh) rather than answered with 400, so that a broken client
    and a probing one see the same thing.
    """
    header = "Proxy-Authorization" if proxy else "Authorization"
    candidates: list[DigestCredentials] = []
    for value in request.header_lines(header):
        try:
            credentials = parse_authorization(value)
        except ParseError as error:
            return AuthResult(AuthStatus.FAILED, f"malformed {header}: {error}")
        if credentials.realm == realm:
            candidates.append(credentials)
    if not candidates:
        return AuthResult(AuthStatus.MISSING, f"no {header} for realm {realm!r}")
    credentials = candidates[0]
    algorithm = ALGORITHMS.get(credentials.algorithm.lower())
    ha1 = None if algorithm is None else lookup_ha1(credentials.username, base_algorithm(algorithm))
    return verify_credentials(
        credentials,
        method=request.method,
        realm=realm,
        ha1=ha1,
        nonces=nonces,
        now=now,
        request_uri=str(request.uri),
    )

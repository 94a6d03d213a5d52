"""HTTP digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760).

Theory of operation
-------------------
A server (registrar 401, proxy 407) answers an unauthenticated request with one
challenge per algorithm, SHA-256 first and MD5 second (RFC 8760 §2.4: in order of
preference), all sharing one nonce and one opaque, each with ``qop="auth"``. The client
picks the strongest algorithm it knows and answers with ``Authorization`` (or
``Proxy-Authorization``); :func:`verify_credentials` checks that answer against the HA1
stored for the user. Passwords are never stored or needed: HA1 =
H(username ":" realm ":" password) is enough to verify (RFC 7616 §3.4.2).

The package is split by role; every public name is re-exported here:

- :mod:`.algorithm`: algorithm names, HA1 and the ``response`` computation (RFC 7616
  §3.4.1/§3.4.2);
- :mod:`.nonce`: stateless nonces, opaque values and nonce-count replay protection
  (RFC 7616 §3.3, §5.10);
- :mod:`.codec`: the challenge and credentials values and their header codecs
  (``WWW-Authenticate`` / ``Authorization`` and the ``Proxy-`` variants);
- :mod:`.server`: challenges and verification (RFC 3261 §22.3/§22.4);
- :mod:`.client`: choosing a challenge and answering it (RFC 8760 §2.4).
"""

from __future__ import annotations

from voip_core.sip.digest.algorithm import (
    CHALLENGE_ALGORITHMS,
    DigestAlgorithm,
    compute_ha1,
    compute_response,
)
from voip_core.sip.digest.client import build_authorization, select_challenge
from voip_core.sip.digest.codec import (
    DigestChallenge,
    DigestCredentials,
    parse_authorization,
    parse_challenge,
    serialize_authorization,
    serialize_challenge,
)
from voip_core.sip.digest.nonce import (
    DEFAULT_MAX_TRACKED_NONCES,
    DEFAULT_NONCE_LIFETIME,
    MIN_SECRET_BYTES,
    NonceManager,
    NonceState,
)
from voip_core.sip.digest.server import (
    AuthResult,
    AuthStatus,
    Ha1Lookup,
    authenticate,
    build_challenges,
    make_challenge_response,
    verify_credentials,
)

__all__ = [
    "CHALLENGE_ALGORITHMS",
    "DEFAULT_MAX_TRACKED_NONCES",
    "DEFAULT_NONCE_LIFETIME",
    "MIN_SECRET_BYTES",
    "AuthResult",
    "AuthStatus",
    "DigestAlgorithm",
    "DigestChallenge",
    "DigestCredentials",
    "Ha1Lookup",
    "NonceManager",
    "NonceState",
    "authenticate",
    "build_authorization",
    "build_challenges",
    "compute_ha1",
    "compute_response",
    "make_challenge_response",
    "parse_authorization",
    "parse_challenge",
    "select_challenge",
    "serialize_authorization",
    "serialize_challenge",
    "verify_credentials",
]

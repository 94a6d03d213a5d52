"""Digest algorithms: their names, HA1 and the ``response`` value (RFC 7616 §3.4, RFC 8760).

Only ``qop=auth`` and the RFC 2069 form without qop are computed; ``auth-int`` is refused.
HA1 is always the non-session H(username ":" realm ":" password); the ``-sess`` variants
derive their session HA1 from it per request (RFC 7616 §3.4.2). ``ALGORITHMS``,
``HEX_LENGTH`` and :func:`base_algorithm` serve the package's other modules.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

from dialplan.credentials import derive_ha1
from voip_core.sip.exceptions import LocalProtocolError

__all__ = ["CHALLENGE_ALGORITHMS", "DigestAlgorithm", "compute_ha1", "compute_response"]

DigestAlgorithm = Literal["MD5", "MD5-sess", "SHA-256", "SHA-256-sess"]

#: Algorithms offered in challenges, in order of preference (RFC 8760 §2.4).
CHALLENGE_ALGORITHMS: Final[tuple[DigestAlgorithm, ...]] = ("SHA-256", "MD5")

#: The known algorithms by their lower-case names (algorithm names are case-insensitive).
ALGORITHMS: Final[dict[str, DigestAlgorithm]] = {
    "md5": "MD5",
    "md5-sess": "MD5-sess",
    "sha-256": "SHA-256",
    "sha-256-sess": "SHA-256-sess",
}
#: Length of a hex digest (HA1, ``response``) per base algorithm.
HEX_LENGTH: Final = {"MD5": 32, "SHA-256": 64}


def _hash(algorithm: DigestAlgorithm, data: str) -> str:
    base = "SHA-256" if algorithm.startswith("SHA-256") else "MD5"
    raw = data.encode("utf-8", "surrogateescape")
    if base == "SHA-256":
        return hashlib.sha256(raw).hexdigest()
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def base_algorithm(algorithm: DigestAlgorithm) -> Literal["MD5", "SHA-256"]:
    """The hash function of ``algorithm``, without ``-sess``."""
    return "SHA-256" if algorithm.startswith("SHA-256") else "MD5"


def compute_ha1(algorithm: DigestAlgorithm, username: str, realm: str, password: str) -> str:
    """HA1 = H(username ":" realm ":" password), hex (RFC 7616 §3.4.2), without ``-sess``.

    Derived by the numbering plan's :func:`~dialplan.credentials.derive_ha1`, the one
    place HA1 is computed: the plan stores what it derives there, and the digest client
    must derive the same from a password.
    """
    return derive_ha1(base_algorithm(algorithm), username, realm, password)


def compute_response(
    algorithm: DigestAlgorithm,
    *,
    ha1: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The ``response`` value (RFC 7616 §3.4.1) from the stored, non-session HA1.

    For the ``-sess`` variants HA1 is first turned into H(HA1 ":" nonce ":" cnonce)
    (§3.4.2). Only ``qop=auth`` and the RFC 2069 form without qop are supported.
    """
    if algorithm.endswith("-sess"):
        if cnonce is None:
            raise LocalProtocolError(f"{algorithm} needs a cnonce")
        ha1 = _hash(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop is None:
        return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
    if qop != "auth":
        raise LocalProtocolError(f"qop {qop!r} not supported; only 'auth'")
    if nc is None or cnonce is None:
        raise LocalProtocolError("qop=auth needs nc and cnonce")
    return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")

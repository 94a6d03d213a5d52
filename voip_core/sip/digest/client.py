"""The client side of digest authentication: choosing a challenge and answering it.

What a user agent does with a 401 or 407: among several challenges the strongest known
algorithm wins (RFC 8760 §2.4), and the answer uses ``qop=auth`` when offered and the
RFC 2069 form otherwise (RFC 7616 §3.4).
"""

from __future__ import annotations

from collections.abc import Sequence

from voip_core.sip.digest.algorithm import base_algorithm, compute_ha1, compute_response
from voip_core.sip.digest.codec import (
    DigestChallenge,
    DigestCredentials,
    parse_challenge,
    serialize_authorization,
)
from voip_core.sip.exceptions import LocalProtocolError, ParseError

__all__ = ["build_authorization", "select_challenge"]


def select_challenge(values: Sequence[str]) -> DigestChallenge:
    """The strongest challenge we can answer among header values (SHA-256 over MD5).

    Values we cannot parse or whose algorithm we do not know are skipped (RFC 8760
    §2.4: a client ignores challenges it does not understand).
    """
    best: DigestChallenge | None = None
    for value in values:
        try:
            challenge = parse_challenge(value)
        except ParseError:
            continue
        if challenge.qop and "auth" not in challenge.qop:
            continue
        if best is None or (
            base_algorithm(challenge.algorithm) == "SHA-256"
            and base_algorithm(best.algorithm) == "MD5"
        ):
            best = challenge
    if best is None:
        raise ParseError(f"no usable digest challenge among {len(values)} header values")
    return best


def build_authorization(
    challenge: DigestChallenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str | None = None,
    ha1: str | None = None,
    cnonce: str,
    nc: int = 1,
) -> str:
    """The ``Authorization`` / ``Proxy-Authorization`` value answering ``challenge``.

    Give either ``password`` or the stored non-session ``ha1`` for the challenge's
    algorithm. Uses ``qop=auth`` when offered, the RFC 2069 form when no qop is offered.
    """
    if (password is None) == (ha1 is None):
        raise LocalProtocolError("give exactly one of password and ha1")
    if challenge.qop and "auth" not in challenge.qop:
        raise LocalProtocolError(f"challenge offers qop {','.join(challenge.qop)!r}, not 'auth'")
    if not 1 <= nc <= 0xFFFFFFFF:
        raise LocalProtocolError(f"nc {nc} outside 1..2**32-1")
    if ha1 is None:
        assert password is not None
        ha1 = compute_ha1(challenge.algorithm, username, challenge.realm, password)
    qop = "auth" if challenge.qop else None
    nc_text = f"{nc:08x}" if qop else None
    response = compute_response(
        challenge.algorithm,
        ha1=ha1,
        nonce=challenge.nonce,
        method=method,
        uri=uri,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce if qop or challenge.algorithm.endswith("-sess") else None,
    )
    credentials = DigestCredentials(
        username=username,
        realm=challenge.realm,
        nonce=challenge.nonce,
        uri=uri,
        response=response,
        algorithm=challenge.algorithm,
        cnonce=cnonce if qop or challenge.algorithm.endswith("-sess") else None,
        opaque=challenge.opaque,
        qop=qop,
        nc=nc_text,
    )
    return serialize_authorization(credentials)

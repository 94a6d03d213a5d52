"""Digest authentication (RFC 7616, RFC 8760, RFC 3261 §22).

Covered: challenge contents (SHA-256 then MD5, shared nonce, qop="auth", opaque,
stale) for 401 and 407; the RFC 7616 §3.9.1 vectors, and the same computation adapted to
a SIP REGISTER; verification of SHA-256 and MD5 answers from a stored HA1; stale nonces
(``stale=true`` only when the digest is right); nonce-count replay; nonces shared by
processes with the same secret; the bounded nonce-count table; unknown user and wrong
password giving byte-identical challenges; parsing of quoted and unquoted parameters
(commas inside quotes) and that any text either parses or raises ``ParseError``.

Left out: ``qop=auth-int`` (no SIP phone we support uses it; refused), ``userhash`` and
``username*`` (RFC 7616 §3.4.4/§3.4.5; never offered, so never answered).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from voip_core.sip.digest import (
    AuthStatus,
    DigestAlgorithm,
    DigestChallenge,
    DigestCredentials,
    NonceManager,
    NonceState,
    authenticate,
    build_authorization,
    build_challenges,
    compute_ha1,
    compute_response,
    make_challenge_response,
    parse_authorization,
    parse_challenge,
    select_challenge,
    serialize_authorization,
    serialize_challenge,
    verify_credentials,
)
from voip_core.sip.exceptions import LocalProtocolError, ParseError
from voip_core.sip.message import Request
from voip_core.sip.parser import parse_message

SECRET = b"county-secret-0123456789abcdef"
REALM = "xiayi.gov.cn"
NOW = 1_800_000_000.0
PASSWORD = "Tq7xPz4Kw9mB2nVc"
HA1 = {
    algorithm: compute_ha1(algorithm, "8001", REALM, PASSWORD) for algorithm in ("MD5", "SHA-256")
}

# RFC 7616 §3.9.1
RFC_REALM = "http-auth@example.org"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"


def fixed_random(size: int) -> bytes:
    return b"\x42" * size


def counting_random() -> Callable[[int], bytes]:
    counter = itertools.count()

    def random_bytes(size: int) -> bytes:
        return next(counter).to_bytes(size, "big")

    return random_bytes


def lookup(username: str, algorithm: str) -> str | None:
    return HA1[algorithm] if username == "8001" else None


def register_request(authorization: str | None = None, *, header: str = "Authorization") -> Request:
    lines = [
        f"REGISTER sip:{REALM} SIP/2.0",
        "Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK-digest",
        "Max-Forwards: 70",
        f"From: <sip:8001@{REALM}>;tag=a1",
        f"To: <sip:8001@{REALM}>",
        "Call-ID: digest-1@10.1.2.3",
        "CSeq: 2 REGISTER",
        "Contact: <sip:8001@10.1.2.3:5060>",
    ]
    if authorization is not None:
        lines.append(f"{header}: {authorization}")
    message = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def answer(
    nonces: NonceManager,
    *,
    algorithm: str = "SHA-256",
    password: str = PASSWORD,
    username: str = "8001",
    nc: int = 1,
    now: float = NOW,
    stale: bool = False,
) -> tuple[Request, DigestChallenge]:
    """Challenge, then answer it as a phone would."""
    challenge_response = make_challenge_response(
        register_request(), realm=REALM, nonces=nonces, now=now, stale=stale
    )
    challenges = [
        parse_challenge(value) for value in challenge_response.header_lines("WWW-Authenticate")
    ]
    challenge = next(c for c in challenges if c.algorithm == algorithm)
    value = build_authorization(
        challenge,
        method="REGISTER",
        uri=f"sip:{REALM}",
        username=username,
        password=password,
        cnonce="0a4f113b",
        nc=nc,
    )
    return register_request(value), challenge


# -- challenges -------------------------------------------------------------------------


def test_challenge_offers_sha256_then_md5_sharing_nonce_and_opaque() -> None:
    nonces = NonceManager(SECRET, random_bytes=fixed_random)
    response = make_challenge_response(register_request(), realm=REALM, nonces=nonces, now=NOW)
    assert response.status_code == 401
    assert response.reason == "Unauthorized"
    values = response.header_lines("WWW-Authenticate")
    assert len(values) == 2
    sha, md5 = (parse_challenge(value) for value in values)
    assert (sha.algorithm, md5.algorithm) == ("SHA-256", "MD5")
    assert sha.nonce == md5.nonce
    assert sha.opaque == md5.opaque == nonces.opaque(sha.nonce)
    assert sha.qop == md5.qop == ("auth",)
    assert sha.realm == REALM
    assert not sha.stale
    assert values[0] == (
        f'Digest realm="{REALM}", nonce="{sha.nonce}", opaque="{sha.opaque}", '
        'algorithm=SHA-256, qop="auth"'
    )


def test_proxy_challenge_is_407_with_proxy_authenticate() -> None:
    nonces = NonceManager(SECRET)
    response = make_challenge_response(
        register_request(), realm=REALM, nonces=nonces, now=NOW, proxy=True
    )
    assert response.status_code == 407
    assert len(response.header_lines("Proxy-Authenticate")) == 2
    assert not response.has_header("WWW-Authenticate")


def test_stale_challenge_carries_stale_true_in_every_header() -> None:
    nonces = NonceManager(SECRET)
    response = make_challenge_response(
        register_request(), realm=REALM, nonces=nonces, now=NOW, stale=True
    )
    values = response.header_lines("WWW-Authenticate")
    assert all(value.endswith(", stale=true") for value in values)
    assert all(parse_challenge(value).stale for value in values)


def test_challenge_round_trips() -> None:
    for challenge in build_challenges(
        realm=REALM, nonces=NonceManager(SECRET), now=NOW, stale=True
    ):
        assert parse_challenge(serialize_challenge(challenge)) == challenge


# -- computation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_example_vectors(algorithm: DigestAlgorithm, expected: str) -> None:
    challenge = DigestChallenge(
        realm=RFC_REALM,
        nonce=RFC_NONCE,
        algorithm=algorithm,
        opaque=RFC_OPAQUE,
        qop=("auth", "auth-int"),
    )
    value = build_authorization(
        challenge,
        method="GET",
        uri="/dir/index.html",
        username="Mufasa",
        password="Circle of Life",
        cnonce=RFC_CNONCE,
        nc=1,
    )
    credentials = parse_authorization(value)
    assert credentials.response == expected
    assert credentials.opaque == RFC_OPAQUE
    assert credentials.nc == "00000001"
    assert credentials.qop == "auth"


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_example_adapted_to_register(algorithm: DigestAlgorithm) -> None:
    h = hashlib.md5 if algorithm == "MD5" else hashlib.sha256
    ha1 = h(f"Mufasa:{RFC_REALM}:Circle of Life".encode()).hexdigest()
    ha2 = h(f"REGISTER:sip:{REALM}".encode()).hexdigest()
    expected = h(f"{ha1}:{RFC_NONCE}:00000001:{RFC_CNONCE}:auth:{ha2}".encode()).hexdigest()
    assert (
        compute_response(
            algorithm,
            ha1=compute_ha1(algorithm, "Mufasa", RFC_REALM, "Circle of Life"),
            nonce=RFC_NONCE,
            method="REGISTER",
            uri=f"sip:{REALM}",
            qop="auth",
            nc="00000001",
            cnonce=RFC_CNONCE,
        )
        == expected
    )


def test_rfc2069_answer_without_qop() -> None:
    challenge = DigestChallenge(realm=REALM, nonce="abc", algorithm="MD5")
    credentials = parse_authorization(
        build_authorization(
            challenge, method="INVITE", uri="sip:trunk", username="u", ha1="0" * 32, cnonce="c"
        )
    )
    ha2 = hashlib.md5(b"INVITE:sip:trunk").hexdigest()
    assert credentials.response == hashlib.md5(f"{'0' * 32}:abc:{ha2}".encode()).hexdigest()
    assert credentials.qop is None
    assert credentials.nc is None
    assert credentials.cnonce is None


def test_session_variant_hashes_ha1_with_nonce_and_cnonce() -> None:
    challenge = DigestChallenge(realm=REALM, nonce="n1", algorithm="SHA-256-sess", qop=("auth",))
    ha1 = HA1["SHA-256"]
    credentials = parse_authorization(
        build_authorization(
            challenge, method="REGISTER", uri="sip:x", username="8001", ha1=ha1, cnonce="c1", nc=3
        )
    )
    session_ha1 = hashlib.sha256(f"{ha1}:n1:c1".encode()).hexdigest()
    ha2 = hashlib.sha256(b"REGISTER:sip:x").hexdigest()
    expected = hashlib.sha256(f"{session_ha1}:n1:00000003:c1:auth:{ha2}".encode()).hexdigest()
    assert credentials.response == expected
    assert credentials.algorithm == "SHA-256-sess"


def test_compute_response_refuses_what_it_cannot_do() -> None:
    with pytest.raises(LocalProtocolError, match="MD5-sess needs a cnonce"):
        compute_response("MD5-sess", ha1="0", nonce="n", method="M", uri="u")
    with pytest.raises(LocalProtocolError, match="qop 'auth-int' not supported; only 'auth'"):
        compute_response(
            "MD5", ha1="0", nonce="n", method="M", uri="u", qop="auth-int", nc="1", cnonce="c"
        )
    with pytest.raises(LocalProtocolError, match="qop=auth needs nc and cnonce"):
        compute_response("MD5", ha1="0", nonce="n", method="M", uri="u", qop="auth")


def test_build_authorization_refuses_bad_arguments() -> None:
    challenge = DigestChallenge(realm=REALM, nonce="n", qop=("auth",))

    def build(challenge: DigestChallenge, **kwargs: Any) -> str:
        return build_authorization(
            challenge, method="REGISTER", uri="sip:x", username="u", cnonce="c", **kwargs
        )

    with pytest.raises(LocalProtocolError, match="give exactly one of password and ha1"):
        build(challenge, password="p", ha1="h")
    with pytest.raises(LocalProtocolError, match="give exactly one of password and ha1"):
        build(challenge)
    with pytest.raises(LocalProtocolError, match="nc 0 outside 1..2\\*\\*32-1"):
        build(challenge, password="p", nc=0)
    auth_int = DigestChallenge(realm=REALM, nonce="n", qop=("auth-int",))
    with pytest.raises(LocalProtocolError, match="challenge offers qop 'auth-int', not 'auth'"):
        build(auth_int, password="p")


# -- verification -----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_correct_answer_is_accepted(algorithm: str) -> None:
    nonces = NonceManager(SECRET)
    request, _ = answer(nonces, algorithm=algorithm)
    result = authenticate(request, realm=REALM, nonces=nonces, now=NOW + 1, lookup_ha1=lookup)
    assert result.status is AuthStatus.OK
    assert result.ok
    assert result.username == "8001"
    assert result.reason == "authenticated"


def test_proxy_authorization_is_read_for_proxies() -> None:
    nonces = NonceManager(SECRET)
    request, _ = answer(nonces)
    value = request.header("Authorization")
    assert value is not None
    proxied = register_request(value, header="Proxy-Authorization")
    assert authenticate(
        proxied, realm=REALM, nonces=nonces, now=NOW, lookup_ha1=lookup, proxy=True
    ).ok
    missing = authenticate(proxied, realm=REALM, nonces=nonces, now=NOW, lookup_ha1=lookup)
    assert missing.status is AuthStatus.MISSING
    assert missing.reason == f"no Authorization for realm {REALM!r}"


def test_wrong_password_fails() -> None:
    nonces = NonceManager(SECRET)
    request, _ = answer(nonces, password="guess")
    result = authenticate(request, realm=REALM, nonces=nonces, now=NOW, lookup_ha1=lookup)
    assert result.status is AuthStatus.FAILED
    assert result.reason == "wrong response for user '8001'"


def test_unknown_user_fails() -> None:
    nonces = NonceManager(SECRET)
    request, _ = answer(nonces, username="9999")
    result = authenticate(request, realm=REALM, nonces=nonces, now=NOW, lookup_ha1=lookup)
    assert result.status is AuthStatus.FAILED
    assert result.reason == "unknown user '9999'"


def test_unknown_user_and_wrong_password_get_byte_identical_challenges() -> None:
    replies = []
    for username, password in (("9999", PASSWORD), ("8001", "guess")):
        nonces = NonceManager(SECRET, random_bytes=fixed_random)
        request, _ = answer(nonces, username=username, password=password)
        result = authenticate(request, realm=REALM, nonces=nonces, now=NOW, lookup_ha1=lookup)
        assert result.status is AuthStatus.FAILED
        reply = make_challenge_response(request, realm=REALM, nonces=nonces, now=NOW)
        replies.append(bytes(reply))
    assert replies[0] == replies[1]


def test_nonce_issued_within_a_window_is_recognised_by_every_worker() -> None:
    issuer = NonceManager(SECRET, issuer=1)
    other_worker = NonceManager(SECRET, issuer=2)
    nonce = issuer.issue(NOW)
    assert issuer.issued_within(nonce, 32, NOW + 31.9)
    assert other_worker.issued_within(nonce, 32, NOW)  # one node's secret, any worker
    assert not issuer.issued_within(nonce, 32, NOW + 32)
    assert not issuer.issued_within(nonce, 32, NOW - 60)  # from the future
    assert not NonceManager(b"another secret of 32 bytes......").issued_within(nonce, 32, NOW)
    assert not issuer.issued_within(
        nonce[:-2] + ("A" if nonce[-2] != "A" else "B") + nonce[-1], 32, NOW
    )
    assert not issuer.issued_within("not a nonce", 32, NOW)


def test_nonce_and_opaque_are_hmac_sha256_of_keys_derived_from_the_secret() -> None:
    # The format of the module docstring, computed here with the standard library's HMAC:
    # base64url(ms ‖ issuer ‖ random ‖ HMAC-SHA256(nonce key, ms ‖ issuer ‖ random)[:16]),
    # and the opaque value base64url(HMAC-SHA256(opaque key, nonce)[:12]).
    for secret in (SECRET, b"s" * 16, b"a longer secret, past one SHA-256 block: " * 3):
        nonces = NonceManager(secret, issuer=7, random_bytes=lambda n: bytes(range(1, n + 1)))
        nonce = nonces.issue(NOW)
        raw = base64.urlsafe_b64decode(nonce + "=")
        body = int(NOW * 1000).to_bytes(8, "big", signed=True) + bytes([7, 2, 3, 4, 5, 6, 7, 8])
        nonce_key = hmac.new(secret, b"ronghe digest nonce", hashlib.sha256).digest()
        assert raw == body + hmac.digest(nonce_key, body, "sha256")[:16]
        opaque_key = hmac.new(secret, b"ronghe digest opaque", hashlib.sha256).digest()
        expected = hmac.digest(opaque_key, nonce.encode(), "sha256")[:12]
        assert base64.urlsafe_b64decode(nonces.opaque(nonce)) == expected


@pytest.mark.parametrize("padding_bits", [1, 2, 3])
def test_nonce_spelled_with_other_padding_bits_is_not_ours(padding_bits: int) -> None:
    # 32 bytes are 256 bits; the 43rd base64 character holds 4 of them and 2 bits that
    # decoding ignores. Another spelling of the same bytes was never issued.
    nonces = NonceManager(SECRET)
    nonce = nonces.issue(NOW)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = nonce[:-1] + alphabet[alphabet.index(nonce[-1]) ^ padding_bits]
    assert base64.urlsafe_b64decode(respelled + "=") == base64.urlsafe_b64decode(nonce + "=")
    assert nonces.check(nonce, NOW) is NonceState.VALID
    assert nonces.check(respelled, NOW) is NonceState.INVALID
    assert not nonces.issued_within(respelled, 32, NOW)
    assert not nonces.use(respelled, 1, NOW)


def test_expired_nonce_with_right_password_is_stale() -> None:
    nonces = NonceManager(SECRET, lifetime=300)
    request, _ = answer(nonces)
    result = authenticate(request, realm=REALM, nonces=nonces, now=NOW + 300, lookup_ha1=lookup)
    assert result.status is AuthStatus.STALE
    assert result.reason == "nonce expired"


def test_expired_nonce_with_wrong_password_is_not_stale() -> None:
    nonces = NonceManager(SECRET, lifetime=300)
    request, _ = answer(nonces, password="guess")
    result = authenticate(request, realm=REALM, nonces=nonces, now=NOW + 301, lookup_ha1=lookup)
    assert result.status is AuthStatus.FAILED


def test_replayed_nonce_count_is_refused() -> None:
    nonces = NonceManager(SECRET)
    request, challenge = answer(nonces)
    assert authenticate(request, realm=REALM, nonces=nonces, now=NOW, lookup_ha1=lookup).ok
    replay = authenticate(request, realm=REALM, nonces=nonces, now=NOW + 1, lookup_ha1=lookup)
    assert replay.status is AuthStatus.STALE
    assert replay.reason == "nc 00000001 replayed or not increasing"
    again = build_authorization(
        challenge,
        method="REGISTER",
        uri=f"sip:{REALM}",
        username="8001",
        password=PASSWORD,
        cnonce="x",
        nc=2,
    )
    assert authenticate(
        register_request(again), realm=REALM, nonces=nonces, now=NOW + 2, lookup_ha1=lookup
    ).ok


def test_nonce_from_another_secret_is_refused() -> None:
    theirs = NonceManager(b"another-secret-0123456789abcdef")
    ours = NonceManager(SECRET)
    request, challenge = answer(theirs)
    # Give it our opaque so that only the nonce is wrong.
    credentials = parse_authorization(request.header("Authorization") or "")
    forged = dataclasses.replace(credentials, opaque=ours.opaque(challenge.nonce))
    result = verify_credentials(
        forged, method="REGISTER", realm=REALM, ha1=HA1["SHA-256"], nonces=ours, now=NOW
    )
    assert result.status is AuthStatus.FAILED
    assert result.reason == "nonce was not issued by us"


def test_processes_sharing_the_secret_accept_each_others_nonces() -> None:
    worker_a = NonceManager(SECRET)
    worker_b = NonceManager(SECRET)
    request, _ = answer(worker_a)
    assert authenticate(request, realm=REALM, nonces=worker_b, now=NOW + 5, lookup_ha1=lookup).ok


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"realm": "other.gov.cn"}, "realm 'other.gov.cn' is not 'xiayi.gov.cn'"),
        ({"algorithm": "SHA-512"}, "unsupported algorithm 'SHA-512'"),
        ({"qop": None}, "qop missing; 'auth' required"),
        ({"qop": "auth-int"}, "qop 'auth-int'; 'auth' required"),
        ({"nc": None}, "nc and cnonce required with qop=auth"),
        (
            {"uri": "sip:elsewhere.gov.cn"},
            "uri 'sip:elsewhere.gov.cn' does not match Request-URI 'sip:xiayi.gov.cn'",
        ),
        ({"uri": "not a uri"}, "uri 'not a uri' does not match Request-URI 'sip:xiayi.gov.cn'"),
        ({"opaque": None}, "opaque missing or not the one issued with the nonce"),
        ({"opaque": "AAAAAAAAAAAAAAAA"}, "opaque missing or not the one issued with the nonce"),
    ],
)
def test_answer_defects_fail_with_named_reason(change: dict[str, Any], reason: str) -> None:
    nonces = NonceManager(SECRET)
    request, _ = answer(nonces)
    credentials = parse_authorization(request.header("Authorization") or "")
    broken = dataclasses.replace(credentials, **change)
    result = verify_credentials(
        broken,
        method="REGISTER",
        realm=REALM,
        ha1=HA1["SHA-256"],
        nonces=nonces,
        now=NOW,
        request_uri=f"sip:{REALM}",
    )
    assert result.status is AuthStatus.FAILED
    assert result.reason == reason


def test_request_uri_compared_as_sip_uris() -> None:
    nonces = NonceManager(SECRET)
    request, _ = answer(nonces)
    credentials = parse_authorization(request.header("Authorization") or "")
    result = verify_credentials(
        credentials,
        method="REGISTER",
        realm=REALM,
        ha1=HA1["SHA-256"],
        nonces=nonces,
        now=NOW,
        request_uri="sip:XIAYI.gov.cn",
    )
    assert result.ok


def test_stored_ha1_of_wrong_length_fails() -> None:
    nonces = NonceManager(SECRET)
    request, _ = answer(nonces)
    credentials = parse_authorization(request.header("Authorization") or "")
    result = verify_credentials(
        credentials, method="REGISTER", realm=REALM, ha1=HA1["MD5"], nonces=nonces, now=NOW
    )
    assert result.reason == "stored HA1 for SHA-256 has the wrong length"


def test_malformed_authorization_fails_without_raising() -> None:
    result = authenticate(
        register_request('Digest username="8001'),
        realm=REALM,
        nonces=NonceManager(SECRET),
        now=NOW,
        lookup_ha1=lookup,
    )
    assert result.status is AuthStatus.FAILED
    assert result.reason.startswith("malformed Authorization: unterminated quoted string")


def test_credentials_for_another_realm_count_as_missing() -> None:
    nonces = NonceManager(SECRET)
    value = build_authorization(
        DigestChallenge(realm="carrier.example", nonce="n", qop=("auth",)),
        method="REGISTER",
        uri="sip:x",
        username="u",
        password="p",
        cnonce="c",
    )
    result = authenticate(
        register_request(value), realm=REALM, nonces=nonces, now=NOW, lookup_ha1=lookup
    )
    assert result.status is AuthStatus.MISSING


def test_unsupported_algorithm_skips_the_lookup() -> None:
    nonces = NonceManager(SECRET)
    request, _ = answer(nonces)
    value = (request.header("Authorization") or "").replace(
        "algorithm=SHA-256", "algorithm=SHA-512"
    )
    result = authenticate(
        register_request(value), realm=REALM, nonces=nonces, now=NOW, lookup_ha1=lookup
    )
    assert result.reason == "unsupported algorithm 'SHA-512'"


# -- nonce manager ----------------------------------------------------------------------


def test_nonce_states() -> None:
    nonces = NonceManager(SECRET, lifetime=10)
    nonce = nonces.issue(NOW)
    assert len(nonce) == 43
    assert nonces.lifetime == 10
    assert nonces.check(nonce, NOW + 9.999) is NonceState.VALID
    assert nonces.check(nonce, NOW + 10) is NonceState.EXPIRED
    assert nonces.check(nonce, NOW - 31) is NonceState.INVALID  # issued in the future
    # Flip a middle character: the last base64 character may only carry padding bits.
    tampered = nonce[:10] + ("A" if nonce[10] != "A" else "B") + nonce[11:]
    assert nonces.check(tampered, NOW) is NonceState.INVALID
    assert nonces.check("x" * 43, NOW) is NonceState.INVALID
    assert nonces.check("short", NOW) is NonceState.INVALID
    assert nonces.check("x" + "!" * 42, NOW) is NonceState.INVALID  # not base64 at all
    assert nonces.check("!!!!" + nonce[4:], NOW) is NonceState.INVALID  # decodes too short
    assert nonces.check("é" * 43, NOW) is NonceState.INVALID
    assert not nonces.use("short", 1, NOW)


def test_each_nonce_is_judged_on_its_own_whatever_was_decoded_before() -> None:
    # The manager remembers the last nonce it decoded: a check of one nonce must never
    # answer for another, in any order.
    nonces = NonceManager(SECRET, lifetime=10)
    first, second = nonces.issue(NOW), nonces.issue(NOW + 5)
    tampered = first[:10] + ("A" if first[10] != "A" else "B") + first[11:]
    assert nonces.check(first, NOW) is NonceState.VALID
    assert nonces.check(tampered, NOW) is NonceState.INVALID
    assert nonces.check(first, NOW) is NonceState.VALID
    assert nonces.check(second, NOW + 12) is NonceState.VALID
    assert nonces.check(first, NOW + 12) is NonceState.EXPIRED
    assert nonces.use(second, 1, NOW + 12)
    assert not nonces.use(tampered, 1, NOW + 12)
    assert nonces.use(first, 1, NOW)
    assert not nonces.use(first, 1, NOW)


def test_nonce_count_must_start_at_one_and_increase() -> None:
    nonces = NonceManager(SECRET)
    nonce = nonces.issue(NOW)
    assert not nonces.use(nonce, 0, NOW)
    assert nonces.use(nonce, 1, NOW)
    assert nonces.use(nonce, 5, NOW)
    assert not nonces.use(nonce, 5, NOW)
    assert not nonces.use(nonce, 4, NOW)
    assert len(nonces) == 1


def test_expired_nonces_leave_the_table() -> None:
    nonces = NonceManager(SECRET, lifetime=10)
    first = nonces.issue(NOW)
    assert nonces.use(first, 1, NOW)
    second = nonces.issue(NOW + 5)
    assert nonces.use(second, 1, NOW + 5)
    assert len(nonces) == 2
    assert nonces.use(nonces.issue(NOW + 10), 1, NOW + 10)
    assert len(nonces) == 2  # the first expired and left


def test_full_table_evicts_oldest_and_makes_older_nonces_stale() -> None:
    nonces = NonceManager(SECRET, max_tracked=2, random_bytes=counting_random())
    first, second, third = (nonces.issue(NOW + i) for i in range(3))
    unused_old = nonces.issue(NOW)
    assert nonces.use(first, 1, NOW + 3)
    assert nonces.use(second, 1, NOW + 3)
    assert nonces.use(third, 1, NOW + 3)  # evicts first
    assert len(nonces) == 2
    # Replaying the evicted nonce cannot succeed: it is now stale.
    assert nonces.check(first, NOW + 3) is NonceState.EXPIRED
    assert not nonces.use(first, 1, NOW + 3)
    assert not nonces.use(unused_old, 1, NOW + 3)
    assert nonces.check(third, NOW + 3) is NonceState.VALID


def test_eviction_can_make_the_new_nonce_itself_stale() -> None:
    nonces = NonceManager(SECRET, max_tracked=1)
    older = nonces.issue(NOW)
    newer = nonces.issue(NOW + 1)
    assert nonces.use(newer, 1, NOW + 1)
    assert not nonces.use(older, 1, NOW + 1)  # evicting newer covers older's timestamp


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret": b"short"}, "nonce secret of 5 bytes below minimum 16"),
        ({"lifetime": 0}, "nonce lifetime 0 must be positive"),
        ({"max_tracked": 0}, "max_tracked 0 must be at least 1"),
    ],
)
def test_nonce_manager_refuses_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"secret": SECRET, **kwargs}
    with pytest.raises(ValueError, match=message):
        NonceManager(**arguments)


def test_random_source_of_wrong_size_is_refused() -> None:
    nonces = NonceManager(SECRET, random_bytes=lambda size: b"x")
    with pytest.raises(LocalProtocolError, match="random_bytes returned 1 bytes, not 8"):
        nonces.issue(NOW)


# -- parsing ----------------------------------------------------------------------------


def test_parse_authorization_quoted_unquoted_and_commas_inside_quotes() -> None:
    credentials = parse_authorization(
        'digest  USERNAME = "86,01\\"x", realm=xiayi.gov.cn,nonce="a,b", uri=sip:xiayi.gov.cn, '
        'response="00ff", algorithm=sha-256, cnonce="c,1", opaque="o", qop="auth", nc=0000000A,'
    )
    assert credentials == DigestCredentials(
        username='86,01"x',
        realm="xiayi.gov.cn",
        nonce="a,b",
        uri="sip:xiayi.gov.cn",
        response="00ff",
        algorithm="sha-256",
        cnonce="c,1",
        opaque="o",
        qop="auth",
        nc="0000000A",
    )
    assert credentials.nonce_count == 10


def test_authorization_round_trips() -> None:
    credentials = DigestCredentials(
        username='a"b\\c',
        realm="r",
        nonce="n",
        uri="sip:x",
        response="00",
        cnonce="c",
        opaque="o",
        qop="auth",
        nc="00000001",
    )
    assert parse_authorization(serialize_authorization(credentials)) == credentials
    bare = DigestCredentials(username="u", realm="r", nonce="n", uri="sip:x", response="00")
    assert parse_authorization(serialize_authorization(bare)) == bare


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "malformed Authorization ''"),
        ("Digest", "malformed Authorization 'Digest'"),
        ("Basic dXNlcjpwYXNz", "unsupported Authorization scheme 'Basic'"),
        ("Digest ,,", "no parameters in Authorization"),
        ('Digest username="a", username="b"', "duplicate parameter 'username' in Authorization"),
        ('Digest username "a"', "'=' expected after 'username' in Authorization"),
        ("Digest username=", "value expected for 'username' in Authorization"),
        ('Digest username="a" realm="r"', "',' expected after 'username' in Authorization"),
        ("Digest =x", "parameter name expected at '=x' in Authorization"),
        ('Digest realm="r", nonce="n", uri="u", response="r"', "missing username in Authorization"),
        (
            'Digest username="u", realm="r", nonce="n", uri="u", response="r", nc=1',
            "malformed nc '1' in Authorization: 8 hex digits expected",
        ),
    ],
)
def test_parse_authorization_errors_name_the_problem(value: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_authorization(value)
    assert str(caught.value) == message


def test_long_values_are_cut_in_error_messages() -> None:
    with pytest.raises(ParseError) as caught:
        parse_authorization("x" * 200)
    assert str(caught.value) == f"malformed Authorization {'x' * 80 + '...'!r}"


@given(st.text())
@example('Digest a="\\')
@example('Digest a="b\\"')
@example("Digest\t a=b,c")
def test_parse_authorization_raises_only_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_authorization(text)


# Header-like text: the scheme, then a soup of the characters the grammar cares about.
_AUTH_SOUP = st.builds(
    lambda scheme, parts: f"{scheme} {''.join(parts)}",
    st.sampled_from(["Digest", "digest", "Basic", "Digest\t"]),
    st.lists(
        st.one_of(
            st.sampled_from(['"', "\\", ",", "=", " ", "\t", "nc", "username", "uri", "realm"]),
            st.from_regex(r"[A-Za-z0-9\-.!%*_+`'~]{1,8}", fullmatch=True),
            st.text(max_size=3),
        ),
        max_size=30,
    ),
)


_VALID_AUTHORIZATION = (
    'Digest username="8001", realm="xiayi.gov.cn", nonce="n0", uri="sip:xiayi.gov.cn", '
    'response="00ff", algorithm=SHA-256, cnonce="c", opaque="o", qop=auth, nc=00000001'
)
# A valid header with one spot overwritten by a few random characters.
_MUTATED = st.builds(
    lambda at, junk: _VALID_AUTHORIZATION[:at] + junk + _VALID_AUTHORIZATION[at + len(junk) :],
    st.integers(0, len(_VALID_AUTHORIZATION)),
    st.text(st.sampled_from('"\\,= \t;xA0é\udcff'), min_size=1, max_size=3),
)


@given(
    st.one_of(
        _AUTH_SOUP, _MUTATED, st.binary().map(lambda raw: raw.decode("utf-8", "surrogateescape"))
    )
)
def test_header_soup_raises_only_parse_error(text: str) -> None:
    for parse in (parse_authorization, parse_challenge):
        with contextlib.suppress(ParseError):
            parse(text)


@given(st.text())
@example('Digest realm="r", nonce="n", algorithm=MD5-sess, qop="auth,auth-int"')
def test_parse_challenge_raises_only_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_challenge(text)


def test_parse_challenge_defaults_and_errors() -> None:
    challenge = parse_challenge('Digest realm="r", nonce="n"')
    assert challenge == DigestChallenge(realm="r", nonce="n", algorithm="MD5")
    with pytest.raises(ParseError, match="unsupported digest algorithm 'SHA-512' in challenge"):
        parse_challenge('Digest realm="r", nonce="n", algorithm=SHA-512')
    with pytest.raises(ParseError, match="missing nonce in challenge"):
        parse_challenge('Digest realm="r"')


def test_select_challenge_prefers_sha256() -> None:
    values = [
        'Digest realm="r", nonce="n", algorithm=MD5, qop="auth"',
        "Basic realm=r",
        'Digest realm="r", nonce="n", algorithm=SHA-512, qop="auth"',
        'Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth-int"',
        'Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth"',
        'Digest realm="r", nonce="n", algorithm=MD5-sess, qop="auth"',
    ]
    assert select_challenge(values).algorithm == "SHA-256"
    assert select_challenge(values[:1]).algorithm == "MD5"
    with pytest.raises(ParseError, match="no usable digest challenge among 2 header values"):
        select_challenge(values[1:3])


# -- nonce issuers (worker processes of one node) -------------------------------------------
#
# Covered: a nonce issued by another issuer with the same secret is EXPIRED (so the
# client retries with ``stale=true`` without asking its user, RFC 7616 §3.3), only when
# the digest is right; the issuer's own nonces stay VALID, also for a restarted process
# with the same index; other secrets stay INVALID whatever the issuer; the issuer byte is
# covered by the MAC; issuers outside 0..255 are refused.


def reissued(nonce: str, issuer: int) -> str:
    """``nonce`` with its issuer byte (the first after the timestamp) replaced."""
    raw = bytearray(base64.urlsafe_b64decode(nonce + "="))
    raw[8] = issuer
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode("ascii")


def test_nonce_of_another_issuer_is_expired() -> None:
    worker_0 = NonceManager(SECRET, issuer=0)
    worker_1 = NonceManager(SECRET, issuer=1)
    theirs = worker_1.issue(NOW)
    ours = worker_0.issue(NOW)
    assert worker_1.check(theirs, NOW + 1) is NonceState.VALID
    assert worker_0.check(theirs, NOW + 1) is NonceState.EXPIRED
    assert worker_1.check(ours, NOW + 1) is NonceState.EXPIRED
    assert worker_0.check(ours, NOW + 1) is NonceState.VALID
    restarted_1 = NonceManager(SECRET, issuer=1)
    assert restarted_1.check(theirs, NOW + 1) is NonceState.VALID


def test_nonce_of_another_issuer_keeps_its_other_states() -> None:
    worker_0 = NonceManager(SECRET, lifetime=10, issuer=0)
    worker_1 = NonceManager(SECRET, lifetime=10, issuer=1)
    theirs = worker_1.issue(NOW)
    assert worker_0.check(theirs, NOW + 10) is NonceState.EXPIRED
    assert worker_0.check(theirs, NOW - 31) is NonceState.INVALID  # issued in the future
    other_secret = NonceManager(b"another-secret-0123456789abcdef", issuer=1)
    assert worker_0.check(other_secret.issue(NOW), NOW) is NonceState.INVALID
    assert worker_1.check(other_secret.issue(NOW), NOW) is NonceState.INVALID


def test_issuer_is_written_into_the_nonce_under_its_mac() -> None:
    worker_0 = NonceManager(SECRET, random_bytes=fixed_random, issuer=0)
    worker_7 = NonceManager(SECRET, random_bytes=fixed_random, issuer=7)
    nonce_0, nonce_7 = worker_0.issue(NOW), worker_7.issue(NOW)
    assert nonce_0 != nonce_7
    assert base64.urlsafe_b64decode(nonce_7 + "=")[8] == 7
    assert base64.urlsafe_b64decode(nonce_0 + "=")[8] == 0
    # Rewriting the issuer byte breaks the MAC: no worker accepts the result.
    forged = reissued(nonce_7, 0)
    assert worker_0.check(forged, NOW) is NonceState.INVALID
    assert worker_7.check(forged, NOW) is NonceState.INVALID


def test_highest_issuer_is_accepted() -> None:
    worker = NonceManager(SECRET, issuer=255)
    assert worker.check(worker.issue(NOW), NOW) is NonceState.VALID


@pytest.mark.parametrize(
    ("issuer", "message"),
    [(256, "nonce issuer 256 outside 0..255"), (-1, "nonce issuer -1 outside 0..255")],
)
def test_nonce_manager_refuses_an_issuer_outside_one_byte(issuer: int, message: str) -> None:
    with pytest.raises(ValueError, match="nonce issuer") as caught:
        NonceManager(SECRET, issuer=issuer)
    assert str(caught.value) == message


def test_answer_to_another_workers_challenge_is_stale() -> None:
    worker_0 = NonceManager(SECRET, issuer=0)
    worker_1 = NonceManager(SECRET, issuer=1)
    request, _ = answer(worker_1)
    elsewhere = authenticate(request, realm=REALM, nonces=worker_0, now=NOW + 1, lookup_ha1=lookup)
    assert elsewhere.status is AuthStatus.STALE
    assert elsewhere.reason == "nonce expired"
    assert elsewhere.username == "8001"
    assert authenticate(request, realm=REALM, nonces=worker_1, now=NOW + 1, lookup_ha1=lookup).ok


def test_wrong_answer_to_another_workers_challenge_is_not_stale() -> None:
    worker_0 = NonceManager(SECRET, issuer=0)
    request, _ = answer(NonceManager(SECRET, issuer=1), password="guess")
    result = authenticate(request, realm=REALM, nonces=worker_0, now=NOW + 1, lookup_ha1=lookup)
    assert result.status is AuthStatus.FAILED
    assert result.reason == "wrong response for user '8001'"

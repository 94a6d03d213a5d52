"""What the authenticator reports to the guard, through the registrar (401) and the
proxy's challenge (407).

Covered: a wrong digest for our realm and an unknown user count; the fifth failure
earns 403 with the reason naming user and source, for REGISTER and for a 407-challenged
request; a blocked source is refused even with the right password; the same user from
another address still registers; a request without credentials, a stale nonce and
another realm's credentials never count.
"""

from __future__ import annotations

from registration_requests import DOMAIN, NOW, PHONE, register
from test_registrar_service import GRUU, PASSWORD, SECRET, lookup, with_credentials

from voip_core.guard import Guard, GuardPolicy
from voip_core.registrar import MemoryBindingStore, RegistrarPolicy
from voip_core.registrar.authentication import Authenticated, Challenge, DigestAuthenticator
from voip_core.registrar.service import Registrar
from voip_core.sip.digest import NonceManager, build_authorization, parse_challenge
from voip_core.sip.message import Request
from voip_core.sip.peer import Peer

ATTACKER = Peer("udp", "127.0.0.2", 5070)
REFUSED = "Forbidden (too many failed authentications for 8001 from 127.0.0.2)"


def make(*, lifetime: float = 300) -> tuple[Registrar, DigestAuthenticator, Guard]:
    guard = Guard(GuardPolicy())
    authenticator = DigestAuthenticator(
        realm=DOMAIN,
        nonces=NonceManager(SECRET, lifetime=lifetime),
        lookup_ha1=lookup,
        algorithms=("MD5",),
        guard=guard,
    )
    registrar = Registrar(
        domain=DOMAIN,
        store=MemoryBindingStore(),
        authenticator=authenticator,
        policy=RegistrarPolicy(),
        gruu_secret=GRUU,
    )
    return registrar, authenticator, guard


def answer(
    registrar: Registrar,
    source: Peer,
    *,
    now: float,
    password: str = PASSWORD,
    username: str = "8001",
    realm: str = DOMAIN,
    call_id: str = "reg-call-1@10.1.2.3",
) -> tuple[int, str]:
    challenge = registrar.register(
        register("<sip:8001@10.1.2.3>", call_id=call_id), source=source, now=now
    )
    assert challenge.status_code == 401
    parsed = parse_challenge(challenge.header_lines("WWW-Authenticate")[0])
    value = build_authorization(
        parsed,
        method="REGISTER",
        uri=f"sip:{DOMAIN}",
        username=username,
        password=password,
        cnonce="c1",
    )
    if realm != DOMAIN:
        value = value.replace(f'realm="{DOMAIN}"', f'realm="{realm}"')
    request = register("<sip:8001@10.1.2.3>", cseq=2, call_id=call_id).append(
        "Authorization", value
    )
    response = registrar.register(request, source=source, now=now)
    return response.status_code, response.reason


def test_fifth_wrong_password_is_refused_and_the_real_phone_still_registers() -> None:
    registrar, _, guard = make()
    results = [answer(registrar, ATTACKER, now=NOW + n, password="guess") for n in range(5)]
    assert results == [(401, "Unauthorized")] * 4 + [(403, REFUSED)]
    assert answer(registrar, ATTACKER, now=NOW + 6) == (403, REFUSED)
    assert answer(registrar, PHONE, now=NOW + 7) == (200, "OK")
    assert guard.auth_failures == 5


def test_unknown_users_count() -> None:
    registrar, _, guard = make()
    for n in range(5):
        answer(registrar, ATTACKER, now=NOW + n, username="8999")
    assert guard.refusal("8999", ATTACKER.host, NOW + 6) is not None


def test_requests_without_credentials_never_count() -> None:
    registrar, _, guard = make()
    for n in range(50):
        response = registrar.register(register("<sip:8001@10.1.2.3>"), source=PHONE, now=NOW + n)
        assert response.status_code == 401
        assert answer(registrar, PHONE, now=NOW + n, call_id=f"r{n}") == (200, "OK")
    assert guard.auth_failures == 0


def test_stale_nonces_never_count() -> None:
    registrar, _, guard = make(lifetime=30)
    for n in range(10):
        challenge = registrar.register(
            register("<sip:8001@10.1.2.3>"), source=PHONE, now=NOW + 100 * n
        )
        request = with_credentials(
            register("<sip:8001@10.1.2.3>", cseq=2), challenge.header_lines("WWW-Authenticate")[0]
        )
        response = registrar.register(request, source=PHONE, now=NOW + 100 * n + 31)
        assert response.status_code == 401
        assert parse_challenge(response.header_lines("WWW-Authenticate")[0]).stale
    assert guard.auth_failures == 0


def test_credentials_for_another_realm_never_count() -> None:
    registrar, _, guard = make()
    for n in range(10):
        assert answer(registrar, ATTACKER, now=NOW + n, realm="other.example") == (
            401,
            "Unauthorized",
        )
    assert guard.auth_failures == 0


def _message(authorization: str | None) -> Request:
    from voip_core.sip.parser import parse_message

    lines = [
        f"MESSAGE sip:8002@{DOMAIN} SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK-m1",
        "Max-Forwards: 70",
        f"From: <sip:8001@{DOMAIN}>;tag=a",
        f"To: <sip:8002@{DOMAIN}>",
        "Call-ID: m1@127.0.0.2",
        "CSeq: 1 MESSAGE",
    ]
    if authorization is not None:
        lines.append(f"Proxy-Authorization: {authorization}")
    request = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(request, Request)
    return request


def test_proxy_challenge_path_is_limited_too() -> None:
    _, authenticator, _ = make()
    outcomes: list[tuple[int, str | None]] = []
    for n in range(5):
        challenge = authenticator.authenticate(
            _message(None), proxy=True, now=NOW + n, source=ATTACKER.host
        )
        assert isinstance(challenge, Challenge)
        assert challenge.status_code == 407
        value = build_authorization(
            parse_challenge(challenge.headers[0][1]),
            method="MESSAGE",
            uri=f"sip:8002@{DOMAIN}",
            username="8001",
            password="guess",
            cnonce="c1",
        )
        outcome = authenticator.authenticate(
            _message(value), proxy=True, now=NOW + n, source=ATTACKER.host
        )
        assert isinstance(outcome, Challenge)
        outcomes.append((outcome.status_code, outcome.reason))
    assert outcomes == [(407, None)] * 4 + [(403, REFUSED)]
    challenge = authenticator.challenge(proxy=True, now=NOW + 6)
    good = build_authorization(
        parse_challenge(challenge.headers[0][1]),
        method="MESSAGE",
        uri=f"sip:8002@{DOMAIN}",
        username="8001",
        password=PASSWORD,
        cnonce="c2",
    )
    assert authenticator.authenticate(
        _message(good), proxy=True, now=NOW + 6, source="127.0.0.1"
    ) == Authenticated("8001")

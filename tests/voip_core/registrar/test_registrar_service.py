"""The registrar as a transaction user: authenticate, authorise, apply, store.

Covered: RFC 3261 §10.3 step 3 (401 with SHA-256 and MD5 challenges; ``stale=true``
after the nonce expired), step 4 (an authenticated user may only register its own
AOR: 403), step 5 (the AOR is the domain's, whatever host the To carries), steps 6-8
through :func:`process_register`, and the store written only when bindings changed.
The proxy's 407 challenges come from the same authenticator. Under overload the node
asks the authenticator whether a REGISTER answers a challenge issued moments ago.
"""

from __future__ import annotations

import hashlib

from registration_requests import DOMAIN, NOW, PHONE, register

from voip_core.registrar import MemoryBindingStore, RegistrarPolicy
from voip_core.registrar.authentication import Authenticated, Challenge, DigestAuthenticator
from voip_core.registrar.service import Registrar
from voip_core.sip.digest import NonceManager, build_authorization, parse_challenge
from voip_core.sip.message import Request

PASSWORD = "Tq7xPz4Kw9mB2nVc"
SECRET = b"nonce-secret-0123456789abcdef"
GRUU = b"gruu-secret-0123456789abcdefgh"


def lookup(username: str, algorithm: str) -> str | None:
    if username not in ("8001", "8002"):
        return None
    h = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5
    return h(f"{username}:{DOMAIN}:{PASSWORD}".encode()).hexdigest()


def make_registrar(store: MemoryBindingStore, nonces: NonceManager) -> Registrar:
    authenticator = DigestAuthenticator(realm=DOMAIN, nonces=nonces, lookup_ha1=lookup)
    return Registrar(
        domain=DOMAIN.upper(),
        store=store,
        authenticator=authenticator,
        policy=RegistrarPolicy(),
        gruu_secret=GRUU,
    )


def with_credentials(
    request: Request, challenge_value: str, *, username: str = "8001", cseq: int = 2
) -> Request:
    challenge = parse_challenge(challenge_value)
    value = build_authorization(
        challenge,
        method="REGISTER",
        uri=f"sip:{DOMAIN}",
        username=username,
        password=PASSWORD,
        cnonce="c1",
    )
    return request.append("Authorization", value)


def test_unauthenticated_register_is_challenged_and_nothing_is_stored() -> None:
    store = MemoryBindingStore()
    response = make_registrar(store, NonceManager(SECRET)).register(
        register("<sip:8001@10.1.2.3>"), source=PHONE, now=NOW
    )
    assert response.status_code == 401
    algorithms = [parse_challenge(v).algorithm for v in response.header_lines("WWW-Authenticate")]
    assert algorithms == ["SHA-256", "MD5"]
    assert response.to().tag is not None
    assert store.count() == 0


def test_challenges_follow_the_configured_order_and_either_answer_is_accepted() -> None:
    # Found by the integration tests: SIPp 3.6 and baresip 1.0 (libre) answer only
    # the first challenge and give up when it is SHA-256; deployments list MD5 first.
    nonces = NonceManager(SECRET)
    authenticator = DigestAuthenticator(
        realm=DOMAIN, nonces=nonces, lookup_ha1=lookup, algorithms=("MD5", "SHA-256")
    )
    challenge = authenticator.challenge(proxy=True, now=NOW)
    assert challenge.status_code == 407
    values = [value for name, value in challenge.headers if name == "Proxy-Authenticate"]
    assert [parse_challenge(v).algorithm for v in values] == ["MD5", "SHA-256"]
    for count, value in enumerate(values, start=1):  # one nonce: count the uses
        request = register("<sip:8001@10.1.2.3>")
        answer = build_authorization(
            parse_challenge(value),
            method="REGISTER",
            uri=f"sip:{DOMAIN}",
            username="8001",
            password=PASSWORD,
            cnonce="c1",
            nc=count,
        )
        outcome = authenticator.authenticate(
            request.append("Proxy-Authorization", answer), proxy=True, now=NOW
        )
        assert outcome == Authenticated("8001")


def test_authenticated_register_is_stored() -> None:
    store = MemoryBindingStore()
    registrar = make_registrar(store, NonceManager(SECRET))
    challenge = registrar.register(register("<sip:8001@10.1.2.3>"), source=PHONE, now=NOW)
    request = with_credentials(
        register("<sip:8001@10.1.2.3>", cseq=2), challenge.header_lines("WWW-Authenticate")[0]
    )
    response = registrar.register(request, source=PHONE, now=NOW)
    assert response.status_code == 200
    assert response.header("Server") == "Ronghe"
    assert [b.contact for b in store.get(f"sip:8001@{DOMAIN}")] == ["sip:8001@10.1.2.3"]


def test_a_cluster_nodes_hop_to_the_registers_flow_is_stored_not_answered() -> None:
    store = MemoryBindingStore()
    authenticator = DigestAuthenticator(
        realm=DOMAIN, nonces=NonceManager(SECRET), lookup_ha1=lookup
    )
    registrar = Registrar(
        domain=DOMAIN,
        store=store,
        authenticator=authenticator,
        policy=RegistrarPolicy(),
        gruu_secret=GRUU,
        first_hop=lambda flow: f"<sip:n-{flow.port}@10.0.0.1:5060;transport=tcp;lr>",
    )
    challenge = registrar.register(register("<sip:8001@10.1.2.3>"), source=PHONE, now=NOW)
    request = with_credentials(
        register("<sip:8001@10.1.2.3>", cseq=2), challenge.header_lines("WWW-Authenticate")[0]
    )
    response = registrar.register(request, source=PHONE, now=NOW)
    assert response.status_code == 200
    assert not response.has_header("Path")
    hop = f"<sip:n-{PHONE.port}@10.0.0.1:5060;transport=tcp;lr>"
    assert [b.path for b in store.get(f"sip:8001@{DOMAIN}")] == [(hop,)]


def test_register_with_server_address_in_to_binds_the_domain_aor() -> None:
    store = MemoryBindingStore()
    registrar = make_registrar(store, NonceManager(SECRET))
    to = "<sip:8001@192.0.2.10>"
    challenge = registrar.register(register("<sip:8001@10.1.2.3>", to=to), source=PHONE, now=NOW)
    request = with_credentials(
        register("<sip:8001@10.1.2.3>", to=to, cseq=2),
        challenge.header_lines("WWW-Authenticate")[1],
    )
    assert registrar.register(request, source=PHONE, now=NOW).status_code == 200
    assert store.count() == 1
    assert store.get(f"sip:8001@{DOMAIN}") != ()


def test_user_may_not_register_another_aor() -> None:
    store = MemoryBindingStore()
    registrar = make_registrar(store, NonceManager(SECRET))
    to = f"<sip:8002@{DOMAIN}>"
    challenge = registrar.register(register("<sip:8002@10.1.2.3>", to=to), source=PHONE, now=NOW)
    request = with_credentials(
        register("<sip:8002@10.1.2.3>", to=to, cseq=2),
        challenge.header_lines("WWW-Authenticate")[0],
    )
    response = registrar.register(request, source=PHONE, now=NOW)
    assert response.status_code == 403
    assert store.count() == 0


def test_expired_nonce_is_challenged_stale() -> None:
    store = MemoryBindingStore()
    registrar = make_registrar(store, NonceManager(SECRET, lifetime=30))
    challenge = registrar.register(register("<sip:8001@10.1.2.3>"), source=PHONE, now=NOW)
    request = with_credentials(
        register("<sip:8001@10.1.2.3>", cseq=2), challenge.header_lines("WWW-Authenticate")[0]
    )
    response = registrar.register(request, source=PHONE, now=NOW + 31)
    assert response.status_code == 401
    assert all(parse_challenge(v).stale for v in response.header_lines("WWW-Authenticate"))


def test_register_answering_a_recent_challenge_is_recognised() -> None:
    nonces = NonceManager(SECRET)
    authenticator = DigestAuthenticator(realm=DOMAIN, nonces=nonces, lookup_ha1=lookup)
    challenge = authenticator.challenge(proxy=False, now=NOW)
    answer = with_credentials(register("<sip:8001@10.1.2.3>", cseq=2), challenge.headers[0][1])
    assert authenticator.answers_recent_challenge(answer, now=NOW + 1, within=32)
    assert not authenticator.answers_recent_challenge(answer, now=NOW + 32, within=32)
    assert not authenticator.answers_recent_challenge(
        register("<sip:8001@10.1.2.3>"), now=NOW, within=32
    )
    # a nonce of another secret, or credentials that do not parse, answer nothing of ours
    other = DigestAuthenticator(realm=DOMAIN, nonces=NonceManager(b"x" * 32), lookup_ha1=lookup)
    foreign = with_credentials(
        register("<sip:8001@10.1.2.3>"), other.challenge(proxy=False, now=NOW).headers[0][1]
    )
    assert not authenticator.answers_recent_challenge(foreign, now=NOW, within=32)
    garbled = register("<sip:8001@10.1.2.3>").append("Authorization", "Digest nonce")
    assert not authenticator.answers_recent_challenge(garbled, now=NOW, within=32)


def test_register_spared_under_overload_is_unauthenticated_or_answers_a_recent_challenge() -> None:
    nonces = NonceManager(SECRET)
    authenticator = DigestAuthenticator(realm=DOMAIN, nonces=nonces, lookup_ha1=lookup)
    plain = register("<sip:8001@10.1.2.3>")
    assert authenticator.spared_under_overload(plain, now=NOW, within=32)  # a 401 answers it
    challenge = authenticator.challenge(proxy=False, now=NOW)
    answer = with_credentials(register("<sip:8001@10.1.2.3>", cseq=2), challenge.headers[0][1])
    assert authenticator.spared_under_overload(answer, now=NOW + 1, within=32)
    # credentials with an old nonce (a refresh) cost a full registration: not spared
    assert not authenticator.spared_under_overload(answer, now=NOW + 32, within=32)
    garbled = plain.append("Authorization", "Digest nonce")
    assert not authenticator.spared_under_overload(garbled, now=NOW, within=32)


def test_proxy_challenge_and_success() -> None:
    nonces = NonceManager(SECRET)
    authenticator = DigestAuthenticator(realm=DOMAIN, nonces=nonces, lookup_ha1=lookup)
    outcome = authenticator.authenticate(register(), proxy=True, now=NOW)
    assert isinstance(outcome, Challenge)
    assert outcome.status_code == 407
    assert [name for name, _ in outcome.headers] == ["Proxy-Authenticate", "Proxy-Authenticate"]
    value = build_authorization(
        parse_challenge(outcome.headers[0][1]),
        method="REGISTER",
        uri=f"sip:{DOMAIN}",
        username="8001",
        password=PASSWORD,
        cnonce="c",
    )
    answered = register().append("Proxy-Authorization", value)
    assert authenticator.authenticate(answered, proxy=True, now=NOW) == Authenticated("8001")

"""GRUU construction and resolution (RFC 5627), canonical AORs and bindings.

Covered: public GRUU = AOR + ``gr=<instance>`` (§3.1) with escaping; temporary GRUUs
(§3.2) opaque, new per REGISTER, all valid while the registration with the same
Call-ID lives, invalid after a new Call-ID, after expiry, under another secret or when
tampered with; resolution of both kinds (§5.3 "the proxy"); the canonical AOR of RFC
3261 §10.3 step 5.

Left out: GRUUs in dialog-forming requests (§4.2, the proxy's business).
"""

from __future__ import annotations

import pytest
from registration_requests import AOR, DOMAIN, GRUU_SECRET, INSTANCE, NOW, PHONE, register

from voip_core.registrar import (
    Binding,
    MemoryBindingStore,
    RegistrarPolicy,
    aor_uri,
    canonical_aor,
    is_gruu,
    normalize_instance_id,
    process_register,
    public_gruu,
    resolve_gruu,
    temporary_gruu,
)
from voip_core.registrar.binding import escape_user
from voip_core.sip.exceptions import ParseError
from voip_core.sip.uri import parse_uri

CONTACT = f'<sip:8001@10.1.2.3:5060>;+sip.instance="<{INSTANCE}>"'
SUPPORTED = [("Supported", "gruu")]


def store_after(
    *requests: tuple[str, int], now: float = NOW, expires: int = 600
) -> tuple[MemoryBindingStore, list[str]]:
    """Apply REGISTERs (call_id, cseq) in turn; return the store and each temp GRUU."""
    store = MemoryBindingStore()
    issued: list[str] = []
    for call_id, cseq in requests:
        outcome = process_register(
            register(CONTACT, call_id=call_id, cseq=cseq, expires=expires, extra=SUPPORTED),
            aor=AOR,
            current=store.get(AOR),
            policy=RegistrarPolicy(),
            source=PHONE,
            now=now,
            gruu_secret=GRUU_SECRET,
        )
        store.replace(AOR, outcome.bindings)
        temp = outcome.bindings[0].temp_gruu
        assert temp is not None
        issued.append(temp)
    return store, issued


def test_public_gruu_is_aor_with_instance() -> None:
    assert public_gruu(AOR, INSTANCE) == f"sip:8001@{DOMAIN};gr={INSTANCE}"
    assert public_gruu("sip:张 三@xiayi.gov.cn", "urn:x:a b") == (
        "sip:%E5%BC%A0%20%E4%B8%89@xiayi.gov.cn;gr=urn:x:a%20b"
    )


def test_public_gruu_resolves_to_the_instance_bindings() -> None:
    store, _ = store_after(("call-a", 1))
    found = resolve_gruu(public_gruu(AOR, INSTANCE), store.by_gruu, gruu_secret=None, now=NOW)
    assert [binding.contact for binding in found] == ["sip:8001@10.1.2.3:5060"]
    upper = f"sips:8001@XIAYI.gov.cn;gr={INSTANCE.upper()}"
    assert resolve_gruu(upper, store.by_gruu, gruu_secret=None, now=NOW) == found


def test_public_gruu_of_an_unknown_instance_resolves_to_nothing() -> None:
    store, _ = store_after(("call-a", 1))
    uri = public_gruu(AOR, "urn:uuid:00000000-0000-0000-0000-000000000000")
    assert resolve_gruu(uri, store.by_gruu, gruu_secret=None, now=NOW) == []


def test_temporary_gruus_stay_valid_during_the_registration() -> None:
    store, issued = store_after(("call-a", 1), ("call-a", 2), ("call-a", 3))
    assert len(set(issued)) == 3
    for temp in issued:
        found = resolve_gruu(temp, store.by_gruu, gruu_secret=GRUU_SECRET, now=NOW)
        assert [binding.cseq for binding in found] == [3]


def test_temporary_gruus_do_not_reveal_the_aor_or_each_other() -> None:
    _, issued = store_after(("call-a", 1), ("call-a", 2))
    users = [parse_uri(temp).user for temp in issued]  # type: ignore[union-attr]
    assert all(user is not None and "8001" not in user for user in users)
    assert users[0] is not None
    assert users[1] is not None
    assert users[0][:16] != users[1][:16]


def test_new_call_id_invalidates_earlier_temporary_gruus() -> None:
    store, issued = store_after(("call-a", 1), ("call-b", 1))
    assert resolve_gruu(issued[0], store.by_gruu, gruu_secret=GRUU_SECRET, now=NOW) == []
    assert len(resolve_gruu(issued[1], store.by_gruu, gruu_secret=GRUU_SECRET, now=NOW)) == 1


def test_gruus_die_with_the_binding() -> None:
    store, issued = store_after(("call-a", 1), expires=600)
    later = NOW + 600
    assert resolve_gruu(issued[0], store.by_gruu, gruu_secret=GRUU_SECRET, now=later) == []
    assert (
        resolve_gruu(public_gruu(AOR, INSTANCE), store.by_gruu, gruu_secret=None, now=later) == []
    )


def test_temporary_gruu_needs_our_secret() -> None:
    store, issued = store_after(("call-a", 1))
    assert resolve_gruu(issued[0], store.by_gruu, gruu_secret=b"x" * 32, now=NOW) == []
    assert resolve_gruu(issued[0], store.by_gruu, gruu_secret=None, now=NOW) == []


@pytest.mark.parametrize(
    "mangle",
    [
        lambda user: user[:-1] + ("a" if user[-1] != "a" else "b"),  # tag broken
        lambda user: user[:20],  # too short
        lambda user: user + "1",  # not base32
        lambda user: "tgruu.",  # empty
        lambda user: "someone",  # not ours
        lambda user: "tgruu.%C3%A9",  # not ASCII once unescaped
    ],
)
def test_tampered_temporary_gruu_resolves_to_nothing(mangle: object) -> None:
    store, issued = store_after(("call-a", 1))
    uri = parse_uri(issued[0])
    assert uri.user is not None  # type: ignore[union-attr]
    forged = f"sip:{mangle(uri.user)}@{DOMAIN};gr"  # type: ignore[operator, union-attr]
    assert resolve_gruu(forged, store.by_gruu, gruu_secret=GRUU_SECRET, now=NOW) == []


def test_non_uuid_instance_ids_round_trip() -> None:
    instance = "urn:gsma:imei:86012345-678901-2"
    temp = temporary_gruu(AOR, instance, call_id="c", cseq=1, secret=GRUU_SECRET)
    binding = Binding(
        aor=AOR,
        contact="sip:8001@10.1.2.3",
        expires_at=NOW + 60,
        call_id="c",
        cseq=1,
        source=PHONE,
        registered_at=NOW,
        instance_id=instance,
    )
    store = MemoryBindingStore()
    store.replace(AOR, [binding])
    assert resolve_gruu(temp, store.by_gruu, gruu_secret=GRUU_SECRET, now=NOW) == [binding]
    with pytest.raises(ValueError, match="instance id of 300 bytes exceeds 255"):
        temporary_gruu(AOR, "i" * 300, call_id="c", cseq=1, secret=GRUU_SECRET)


def test_not_a_gruu_resolves_to_nothing() -> None:
    store, _ = store_after(("call-a", 1))
    for uri in (AOR, "tel:+8637012345678", "not a uri", f"sip:{DOMAIN};gr"):
        assert resolve_gruu(uri, store.by_gruu, gruu_secret=GRUU_SECRET, now=NOW) == []


def test_is_gruu() -> None:
    assert is_gruu(parse_uri(public_gruu(AOR, INSTANCE)))
    assert is_gruu(parse_uri(f"sip:tgruu.abc@{DOMAIN};gr"))
    assert not is_gruu(parse_uri(AOR))
    assert not is_gruu(parse_uri("tel:+8637012345678"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"<urn:uuid:F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6>"', INSTANCE),
        ("<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>", INSTANCE),
        ('"<urn:gsma:imei:ABC>"', "urn:gsma:imei:ABC"),
    ],
)
def test_normalize_instance_id(value: str, expected: str) -> None:
    assert normalize_instance_id(value) == expected


# -- canonical AOR and bindings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "aor"),
    [
        ("sip:8001@XiaYi.Gov.CN", "sip:8001@xiayi.gov.cn"),
        ("sips:8001@xiayi.gov.cn;transport=tls?subject=x", "sip:8001@xiayi.gov.cn"),
        ("sip:%38001:secret@xiayi.gov.cn:5080;user=phone", "sip:8001@xiayi.gov.cn:5080"),
        ("sip:Alice@xiayi.gov.cn", "sip:Alice@xiayi.gov.cn"),
        ("sip:xiayi.gov.cn", "sip:xiayi.gov.cn"),
    ],
)
def test_canonical_aor(uri: str, aor: str) -> None:
    assert canonical_aor(uri) == aor
    assert canonical_aor(parse_uri(uri)) == aor


def test_canonical_aor_needs_a_sip_uri() -> None:
    with pytest.raises(
        ParseError, match="address-of-record must be a SIP URI, got 'tel:\\+86123'"
    ) as caught:
        canonical_aor("tel:+86123")
    assert caught.value.status_code == 416


def test_aor_uri_re_escapes_the_user() -> None:
    assert str(aor_uri("sip:a b@xiayi.gov.cn")) == "sip:a%20b@xiayi.gov.cn"
    assert str(aor_uri("sip:xiayi.gov.cn:5080")) == "sip:xiayi.gov.cn:5080"
    assert canonical_aor(aor_uri("sip:张@xiayi.gov.cn")) == "sip:张@xiayi.gov.cn"
    with pytest.raises(ParseError, match="not a canonical address-of-record: 'tel:1'"):
        aor_uri("tel:1")
    assert escape_user("8001;x=1") == "8001;x=1"


def test_binding_expiry_helpers() -> None:
    binding = Binding(
        aor=AOR,
        contact="sip:8001@10.1.2.3",
        expires_at=NOW + 10.4,
        call_id="c",
        cseq=1,
        source=PHONE,
        registered_at=NOW,
    )
    assert binding.expires_in(NOW) == 10
    assert binding.expires_in(NOW + 20) == 0
    assert not binding.is_expired(NOW + 10)
    assert binding.is_expired(NOW + 10.4)
    assert str(binding.contact_uri) == "sip:8001@10.1.2.3"

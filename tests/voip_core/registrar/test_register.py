"""REGISTER processing.

Covered, RFC 3261 §10.3: step 6 (no Contact is a query; ``Contact: *`` only alone and
with ``Expires: 0``, else 400; its Call-ID/CSeq check), step 7 (expires parameter >
Expires header > default; 0 removes; 423 with Min-Expires only below one hour; the
maximum clamp; URI comparison per §19.1.4; the Call-ID/CSeq rule, answered 400; several
contacts; all-or-nothing), step 8 (200 lists every binding with ``expires``, plus
Date); q-values (§20.10, 400 outside 0-1); the per-AOR contact limit (403). RFC 3327
§5.3 (Path stored and echoed, 420 without ``Supported: path``; a cluster node's first
hop stored in front of it, never echoed). RFC 5626 §6 (reg-id
with +sip.instance keys the binding; one reg-id Contact only; 439 through an edge
proxy without ``ob``; ``Require: outbound``). RFC 5627 §5 (pub-gruu and temp-gruu in
the 200 only with ``Supported: gruu``; a GRUU in To is refused with 403).

Left out here: steps 1-5 (domain, Require, authentication, authorisation, the AOR from
To) belong to the caller; GRUU resolution is in test_gruu.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from registration_requests import AOR, DOMAIN, GRUU_SECRET, INSTANCE, NOW, PHONE, register

from voip_core.registrar import (
    Binding,
    RegisterOutcome,
    RegistrarPolicy,
    process_register,
    public_gruu,
)
from voip_core.sip.exceptions import LocalProtocolError
from voip_core.sip.message import Request
from voip_core.sip.parser import parse_message
from voip_core.sip.peer import Peer

POLICY = RegistrarPolicy()
CONTACT = "<sip:8001@10.1.2.3:5060>"
OTHER = "<sip:8001@10.1.2.99:5062>"


def run(
    request: Request,
    current: tuple[Binding, ...] | list[Binding] = (),
    *,
    policy: RegistrarPolicy = POLICY,
    now: float = NOW,
    gruu_secret: bytes | None = None,
    source: Peer = PHONE,
) -> RegisterOutcome:
    return process_register(
        request,
        aor=AOR,
        current=current,
        policy=policy,
        source=source,
        now=now,
        gruu_secret=gruu_secret,
    )


def registered(*contacts: str, **kwargs: Any) -> tuple[Binding, ...]:
    outcome = run(register(*contacts, **kwargs))
    assert outcome.response.status_code == 200, outcome.response.reason
    return outcome.bindings


def contact_values(outcome: RegisterOutcome) -> list[str]:
    return outcome.response.header_lines("Contact")


def assert_refused(
    outcome: RegisterOutcome, status: int, reason: str, current: tuple[Binding, ...] = ()
) -> None:
    assert (outcome.response.status_code, outcome.response.reason) == (status, reason)
    assert outcome.bindings == current
    assert not outcome.changed
    assert not outcome.response.has_header("Contact")


# -- step 7: binding, expiry ------------------------------------------------------------


def test_first_registration_uses_default_expires_and_lists_the_binding() -> None:
    outcome = run(register(CONTACT, extra=[("User-Agent", "Yealink SIP-T46U 108.86.0.70")]))
    response = outcome.response
    assert (response.status_code, response.reason) == (200, "OK")
    assert contact_values(outcome) == ["<sip:8001@10.1.2.3:5060>;expires=3600"]
    assert response.header("Date") == "Fri, 15 Jan 2027 08:00:00 GMT"
    assert response.to().tag is not None
    assert outcome.changed
    assert outcome.bindings == (
        Binding(
            aor=AOR,
            contact="sip:8001@10.1.2.3:5060",
            expires_at=NOW + 3600,
            call_id="reg-call-1@10.1.2.3",
            cseq=1,
            source=PHONE,
            registered_at=NOW,
            user_agent="Yealink SIP-T46U 108.86.0.70",
        ),
    )


def test_expires_parameter_beats_header_and_header_beats_default() -> None:
    outcome = run(register(f"{CONTACT};expires=120", OTHER, expires=600))
    assert contact_values(outcome) == [
        "<sip:8001@10.1.2.3:5060>;expires=120",
        "<sip:8001@10.1.2.99:5062>;expires=600",
    ]


def test_long_interval_is_cut_to_the_maximum() -> None:
    outcome = run(register(CONTACT, expires=86400))
    assert contact_values(outcome) == ["<sip:8001@10.1.2.3:5060>;expires=3600"]
    assert outcome.bindings[0].expires_at == NOW + 3600


def test_huge_interval_is_bounded() -> None:
    outcome = run(register(f"{CONTACT};expires=99999999999999"))
    assert outcome.bindings[0].expires_at == NOW + 3600


def test_interval_below_minimum_is_423_with_min_expires() -> None:
    outcome = run(register(CONTACT, expires=30))
    assert_refused(outcome, 423, "Expires 30 below minimum 60")
    assert outcome.response.header("Min-Expires") == "60"


def test_one_brief_contact_refuses_the_whole_request() -> None:
    outcome = run(register(CONTACT, f"{OTHER};expires=59", expires=600))
    assert_refused(outcome, 423, "Expires 59 below minimum 60")


def test_no_423_for_an_hour_or_more_even_below_minimum() -> None:
    policy = RegistrarPolicy(min_expires=7200, max_expires=9000, default_expires=7200)
    outcome = run(register(CONTACT, expires=3600), policy=policy)
    assert outcome.response.status_code == 200
    assert outcome.bindings[0].expires_at == NOW + 3600
    assert (
        run(register(CONTACT, expires=3599), policy=policy).response.header("Min-Expires") == "7200"
    )


def test_expires_zero_removes_the_binding() -> None:
    current = registered(CONTACT, OTHER)
    outcome = run(register(f"{CONTACT};expires=0", cseq=2), current, now=NOW + 10)
    assert [binding.contact for binding in outcome.bindings] == ["sip:8001@10.1.2.99:5062"]
    assert contact_values(outcome) == ["<sip:8001@10.1.2.99:5062>;expires=3590"]
    assert outcome.changed


def test_expires_zero_for_an_unknown_contact_changes_nothing() -> None:
    current = registered(CONTACT)
    outcome = run(register(OTHER, cseq=2, expires=0), current)
    assert outcome.response.status_code == 200
    assert outcome.bindings == current
    assert not outcome.changed


def test_refresh_keeps_first_registration_time() -> None:
    current = registered(CONTACT)
    outcome = run(register(CONTACT, cseq=2, expires=600), current, now=NOW + 1800)
    (binding,) = outcome.bindings
    assert binding.registered_at == NOW
    assert binding.expires_at == NOW + 2400
    assert binding.cseq == 2


def test_expired_bindings_are_not_current() -> None:
    current = registered(CONTACT, expires=60)
    outcome = run(register(cseq=2), current, now=NOW + 61)
    assert outcome.bindings == ()
    assert outcome.changed
    assert contact_values(outcome) == []


def test_uri_comparison_follows_rfc3261_19_1_4() -> None:
    current = registered("<sip:8001@Phone.Example:5060>")
    outcome = run(register("<sip:8001@phone.example:5060>", cseq=2), current)
    assert [binding.contact for binding in outcome.bindings] == ["sip:8001@phone.example:5060"]
    outcome = run(register("<sip:8001@Phone.Example:5060;transport=tcp>", cseq=2), current)
    assert len(outcome.bindings) == 2  # transport in one URI only: different contacts


def test_unparsable_stored_contact_is_kept_until_it_expires() -> None:
    (stored,) = registered(CONTACT)
    broken = dataclasses.replace(stored, contact="sip:<broken>")
    outcome = run(register(CONTACT, cseq=2), [broken])
    assert [binding.contact for binding in outcome.bindings] == [
        "sip:<broken>",
        "sip:8001@10.1.2.3:5060",
    ]
    assert run(register("*", expires=0, cseq=2), [broken]).bindings == ()


def test_several_contacts_and_other_call_ids_are_all_listed() -> None:
    current = registered(CONTACT, call_id="desk-phone")
    outcome = run(register(f"{OTHER};q=0.5", "<sip:8001@10.9.9.9>", call_id="soft-phone"), current)
    assert contact_values(outcome) == [
        "<sip:8001@10.1.2.3:5060>;expires=3600",
        "<sip:8001@10.1.2.99:5062>;expires=3600;q=0.5",
        "<sip:8001@10.9.9.9>;expires=3600",
    ]


def test_display_name_and_unknown_contact_parameters_are_not_stored() -> None:
    outcome = run(register(f'"值班室" {CONTACT};+sip.ice;methods="INVITE,BYE"'))
    assert outcome.bindings[0].contact == "sip:8001@10.1.2.3:5060"


# -- step 7: Call-ID and CSeq -----------------------------------------------------------


def test_same_call_id_higher_cseq_updates() -> None:
    current = registered(CONTACT, cseq=5)
    outcome = run(register(CONTACT, cseq=6, expires=300), current)
    assert outcome.bindings[0].cseq == 6
    assert outcome.bindings[0].expires_at == NOW + 300


@pytest.mark.parametrize("cseq", [5, 4])
def test_same_call_id_without_higher_cseq_fails(cseq: int) -> None:
    current = registered(CONTACT, cseq=5)
    outcome = run(register(f"{CONTACT};expires=0", cseq=cseq), current)
    assert_refused(
        outcome,
        400,
        f"out-of-order REGISTER: CSeq {cseq} not above 5 for Contact <sip:8001@10.1.2.3:5060>",
        current,
    )


def test_other_call_id_updates_whatever_its_cseq() -> None:
    current = registered(CONTACT, cseq=5)
    outcome = run(register(CONTACT, cseq=1, call_id="after-reboot"), current)
    assert outcome.bindings[0].call_id == "after-reboot"
    assert outcome.bindings[0].registered_at == NOW


def test_a_failing_contact_aborts_every_update() -> None:
    current = registered(CONTACT, cseq=5)
    outcome = run(register(OTHER, CONTACT, cseq=3), current)
    assert outcome.response.status_code == 400
    assert outcome.bindings == current


# -- step 6: Contact: * -----------------------------------------------------------------


def test_wildcard_removes_every_binding() -> None:
    current = registered(CONTACT, OTHER)
    outcome = run(register("*", cseq=2, expires=0), current)
    assert outcome.response.status_code == 200
    assert outcome.bindings == ()
    assert outcome.changed
    assert contact_values(outcome) == []
    assert outcome.response.has_header("Date")


def test_wildcard_from_other_call_id_removes_regardless_of_cseq() -> None:
    current = registered(CONTACT, cseq=9)
    assert run(register("*", cseq=1, expires=0, call_id="other"), current).bindings == ()


def test_wildcard_with_same_call_id_and_old_cseq_fails() -> None:
    current = registered(CONTACT, cseq=9)
    outcome = run(register("*", cseq=9, expires=0), current)
    assert_refused(
        outcome,
        400,
        "out-of-order REGISTER: CSeq 9 not above 9 for Contact <sip:8001@10.1.2.3:5060>",
        current,
    )


@pytest.mark.parametrize(
    ("expires", "reason"),
    [
        (None, "Contact: * requires Expires: 0, got no Expires"),
        (30, "Contact: * requires Expires: 0, got Expires: 30"),
    ],
)
def test_wildcard_needs_expires_zero(expires: int | None, reason: str) -> None:
    assert_refused(run(register("*", expires=expires)), 400, reason)


def test_wildcard_must_be_alone() -> None:
    assert_refused(
        run(register("*", CONTACT, expires=0)), 400, "Contact: * must be the only Contact"
    )
    assert_refused(
        run(register(f"*, {CONTACT}", expires=0)), 400, "Contact: * must be the only Contact"
    )


# -- step 6 / 8: query ------------------------------------------------------------------


def test_register_without_contact_lists_current_bindings() -> None:
    current = registered(CONTACT)
    outcome = run(register(cseq=2), current, now=NOW + 100)
    assert contact_values(outcome) == ["<sip:8001@10.1.2.3:5060>;expires=3500"]
    assert outcome.bindings == current
    assert not outcome.changed


# -- malformed input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contact", "reason"),
    [
        (
            f"{CONTACT};q=1.5",
            "q value '1.5' in Contact <sip:8001@10.1.2.3:5060> not between 0 and 1",
        ),
        (
            f"{CONTACT};q=0.1234",
            "q value '0.1234' in Contact <sip:8001@10.1.2.3:5060> not between 0 and 1",
        ),
        (
            f"{CONTACT};q=high",
            "q value 'high' in Contact <sip:8001@10.1.2.3:5060> not between 0 and 1",
        ),
        (
            f"{CONTACT};expires=soon",
            "malformed expires parameter in Contact <sip:8001@10.1.2.3:5060>: 'soon'",
        ),
        (
            f'{CONTACT};+sip.instance="<>"',
            "invalid +sip.instance '\"<>\"' in Contact <sip:8001@10.1.2.3:5060>",
        ),
    ],
)
def test_bad_contact_is_400_naming_the_value(contact: str, reason: str) -> None:
    assert_refused(run(register(contact)), 400, reason)


def test_unparsable_contact_is_400() -> None:
    # The parser refuses this on the wire; a request built in code can still carry it.
    request = register(CONTACT).set_header("Contact", "<sip:8001@10.1.2.3")
    assert_refused(run(request), 400, "missing '>' in address '<sip:8001@10.1.2.3'")


@pytest.mark.parametrize(
    ("q", "stored", "shown"), [("0", 0.0, "0"), ("1.000", 1.0, "1"), ("0.25", 0.25, "0.25")]
)
def test_q_values_within_range_are_kept(q: str, stored: float, shown: str) -> None:
    outcome = run(register(f"{CONTACT};q={q}"))
    assert outcome.bindings[0].q == stored
    assert contact_values(outcome) == [f"<sip:8001@10.1.2.3:5060>;expires=3600;q={shown}"]


def test_malformed_expires_header_is_400() -> None:
    request = register(CONTACT).append("Expires", "tomorrow")
    assert_refused(run(request), 400, "malformed Expires 'tomorrow'")


def test_duplicate_contact_is_400() -> None:
    outcome = run(register(CONTACT, "<sip:8001@10.1.2.3:5060;lr>"))
    assert_refused(outcome, 400, "duplicate Contact <sip:8001@10.1.2.3:5060;lr>")


def test_overlong_values_are_refused() -> None:
    long_contact = f"<sip:{'x' * 1100}@10.1.2.3>"
    assert_refused(run(register(long_contact)), 400, "Contact URI of 1113 characters exceeds 1024")
    assert_refused(
        run(register(CONTACT, call_id="c" * 256)), 400, "Call-ID of 256 characters exceeds 255"
    )


def test_long_user_agent_is_cut() -> None:
    outcome = run(register(CONTACT, extra=[("User-Agent", "U" * 300)]))
    assert outcome.bindings[0].user_agent == "U" * 255


def test_long_contact_is_shortened_in_reasons() -> None:
    contact = f"<sip:{'y' * 200}@10.1.2.3>;q=7"
    outcome = run(register(contact))
    assert (
        outcome.response.reason == f"q value '7' in Contact <sip:{'y' * 96}...> not between 0 and 1"
    )


def test_only_register_is_processed() -> None:
    data = register(CONTACT)
    invite = Request(method="INVITE", uri=data.uri, headers=data.headers)
    with pytest.raises(LocalProtocolError, match="process_register given a INVITE request"):
        run(invite)


# -- limit ------------------------------------------------------------------------------


def test_contact_limit_is_403() -> None:
    policy = RegistrarPolicy(max_contacts_per_aor=2)
    current = registered(CONTACT, OTHER)
    outcome = run(register("<sip:8001@10.9.9.9>", call_id="third"), current, policy=policy)
    assert_refused(outcome, 403, f"3 contacts for {AOR} exceed limit 2", current)


def test_aor_over_a_lowered_limit_can_still_refresh_and_shrink() -> None:
    policy = RegistrarPolicy(max_contacts_per_aor=1)
    current = registered(CONTACT, OTHER)
    assert run(register(CONTACT, cseq=2), current, policy=policy).response.status_code == 200
    outcome = run(register(f"{OTHER};expires=0", cseq=2), current, policy=policy)
    assert len(outcome.bindings) == 1


# -- responses --------------------------------------------------------------------------


def test_to_tag_is_stable_for_a_retransmission_and_can_be_given() -> None:
    request = register(CONTACT)
    assert run(request).response.to().tag == run(request).response.to().tag
    outcome = process_register(
        request, aor=AOR, current=(), policy=POLICY, source=PHONE, now=NOW, to_tag="fixed"
    )
    assert outcome.response.to().tag == "fixed"


def test_source_is_recorded() -> None:
    flow = Peer("tls", "203.0.113.7", 41234, connection_id=17)
    assert run(register(CONTACT), source=flow).bindings[0].source == flow


# -- RFC 3327 Path ----------------------------------------------------------------------


def test_path_is_stored_and_echoed_when_supported() -> None:
    path = [("Path", "<sip:edge1.xiayi.gov.cn;lr>"), ("Path", "<sip:edge2.xiayi.gov.cn;lr>")]
    outcome = run(register(CONTACT, extra=[("Supported", "path"), *path], vias=3))
    assert outcome.bindings[0].path == (
        "<sip:edge1.xiayi.gov.cn;lr>",
        "<sip:edge2.xiayi.gov.cn;lr>",
    )
    assert outcome.response.header_lines("Path") == [
        "<sip:edge1.xiayi.gov.cn;lr>",
        "<sip:edge2.xiayi.gov.cn;lr>",
    ]


HOP = "<sip:n-token@10.0.0.1:5060;transport=tcp;lr>"


def test_a_first_hop_goes_in_front_of_the_stored_path_and_is_not_echoed() -> None:
    # A cluster node's hop to the REGISTER's flow (voip_core.proxy.nodes): requests for
    # the contact from other nodes route through it; the phone never learns it.
    path = [("Path", "<sip:edge1.xiayi.gov.cn;lr>")]
    request = register(CONTACT, extra=[("Supported", "path"), *path], vias=2)
    outcome = process_register(
        request,
        aor=AOR,
        current=(),
        policy=POLICY,
        source=PHONE,
        now=NOW,
        first_hop=HOP,
    )
    assert outcome.bindings[0].path == (HOP, "<sip:edge1.xiayi.gov.cn;lr>")
    assert outcome.response.header_lines("Path") == ["<sip:edge1.xiayi.gov.cn;lr>"]
    assert HOP not in bytes(outcome.response).decode()


def test_a_first_hop_is_stored_without_any_path_and_only_on_the_requests_bindings() -> None:
    other_node = "<sip:n-other@10.0.0.2:5060;transport=tcp;lr>"
    kept = dataclasses.replace(
        run(register(OTHER, call_id="reg-other")).bindings[0], path=(other_node,)
    )
    outcome = process_register(
        register(CONTACT),
        aor=AOR,
        current=(kept,),
        policy=POLICY,
        source=PHONE,
        now=NOW,
        first_hop=HOP,
    )
    assert [binding.path for binding in outcome.bindings] == [(other_node,), (HOP,)]
    assert not outcome.response.has_header("Path")


def test_path_without_supported_path_is_420() -> None:
    outcome = run(register(CONTACT, extra=[("Path", "<sip:edge1.xiayi.gov.cn;lr>")], vias=2))
    assert_refused(outcome, 420, "Path received but 'path' not in Supported")
    assert outcome.response.header("Unsupported") == "path"


def test_malformed_or_huge_path_is_400() -> None:
    outcome = run(register(CONTACT, extra=[("Supported", "path"), ("Path", "<sip:edge1")]))
    assert_refused(outcome, 400, "missing '>' in address '<sip:edge1'")
    huge = [("Path", f"<sip:{'e' * 250}.gov.cn;lr>")] * 9
    outcome = run(register(CONTACT, extra=[("Supported", "path"), *huge]))
    assert_refused(outcome, 400, "Path of more than 2048 characters")


# -- RFC 5626 outbound ------------------------------------------------------------------

OUTBOUND = [("Supported", "outbound, path")]


def flow_contact(uri: str = CONTACT, reg_id: int = 1, instance: str = INSTANCE) -> str:
    return f'{uri};+sip.instance="<{instance}>";reg-id={reg_id}'


def test_outbound_registration_binds_a_flow() -> None:
    outcome = run(register(flow_contact(), extra=OUTBOUND))
    (binding,) = outcome.bindings
    assert (binding.instance_id, binding.reg_id) == (INSTANCE, 1)
    assert outcome.response.header("Require") == "outbound"
    assert contact_values(outcome) == [
        f'<sip:8001@10.1.2.3:5060>;expires=3600;+sip.instance="<{INSTANCE}>";reg-id=1'
    ]


def test_same_instance_and_reg_id_replaces_the_flow_despite_a_new_contact() -> None:
    current = run(register(flow_contact(), extra=OUTBOUND)).bindings
    outcome = run(register(flow_contact(OTHER), extra=OUTBOUND, cseq=2), current)
    assert [binding.contact for binding in outcome.bindings] == ["sip:8001@10.1.2.99:5062"]


def test_same_instance_other_reg_id_is_a_second_flow() -> None:
    current = run(register(flow_contact(), extra=OUTBOUND)).bindings
    outcome = run(register(flow_contact(OTHER, reg_id=2), extra=OUTBOUND, cseq=2), current)
    assert [(b.contact, b.reg_id) for b in outcome.bindings] == [
        ("sip:8001@10.1.2.3:5060", 1),
        ("sip:8001@10.1.2.99:5062", 2),
    ]


def test_flow_replacement_obeys_the_cseq_rule() -> None:
    current = run(register(flow_contact(), extra=OUTBOUND, cseq=4)).bindings
    outcome = run(register(flow_contact(OTHER), extra=OUTBOUND, cseq=4), current)
    assert_refused(
        outcome,
        400,
        "out-of-order REGISTER: CSeq 4 not above 4 for Contact <sip:8001@10.1.2.3:5060>",
        current,
    )


def test_reg_id_without_instance_or_outbound_support_is_ignored() -> None:
    outcome = run(register(f"{CONTACT};reg-id=1", extra=OUTBOUND))
    assert outcome.bindings[0].reg_id is None
    assert not outcome.response.has_header("Require")
    outcome = run(register(flow_contact()))
    assert (outcome.bindings[0].instance_id, outcome.bindings[0].reg_id) == (INSTANCE, None)


def test_more_than_one_reg_id_contact_is_400() -> None:
    outcome = run(register(flow_contact(), flow_contact(OTHER, reg_id=2), extra=OUTBOUND))
    assert_refused(outcome, 400, "more than one Contact with reg-id")


@pytest.mark.parametrize("reg_id", ["0", "x", "2147483648"])
def test_invalid_reg_id_is_400(reg_id: str) -> None:
    contact = f'{CONTACT};+sip.instance="<{INSTANCE}>";reg-id={reg_id}'
    outcome = run(register(contact, extra=OUTBOUND))
    assert_refused(outcome, 400, f"invalid reg-id '{reg_id}' in Contact <sip:8001@10.1.2.3:5060>")


def test_outbound_through_edge_proxy_without_ob_is_439() -> None:
    outcome = run(register(flow_contact(), extra=OUTBOUND, vias=2))
    assert_refused(outcome, 439, "First Hop Lacks Outbound Support")
    outcome = run(
        register(flow_contact(), extra=[*OUTBOUND, ("Path", "<sip:edge.xiayi.gov.cn;lr>")], vias=2)
    )
    assert outcome.response.status_code == 439


def test_outbound_through_edge_proxy_with_ob_is_accepted() -> None:
    path = ("Path", "<sip:edge.xiayi.gov.cn;lr;ob>")
    outcome = run(register(flow_contact(), extra=[*OUTBOUND, path], vias=2))
    assert outcome.response.status_code == 200
    assert outcome.bindings[0].path == ("<sip:edge.xiayi.gov.cn;lr;ob>",)


# -- RFC 5627 GRUU ----------------------------------------------------------------------

GRUU = [("Supported", "gruu")]


def test_gruus_are_listed_when_the_ua_supports_them() -> None:
    contact = f'{CONTACT};+sip.instance="<{INSTANCE}>"'
    outcome = run(register(contact, extra=GRUU), gruu_secret=GRUU_SECRET)
    (binding,) = outcome.bindings
    assert binding.temp_gruu is not None
    assert binding.temp_gruu.startswith("sip:tgruu.")
    assert binding.temp_gruu.endswith(f"@{DOMAIN};gr")
    assert contact_values(outcome) == [
        f'<sip:8001@10.1.2.3:5060>;expires=3600;+sip.instance="<{INSTANCE}>"'
        f';pub-gruu="sip:8001@{DOMAIN};gr={INSTANCE}";temp-gruu="{binding.temp_gruu}"'
    ]


def test_each_refresh_issues_a_new_temporary_gruu() -> None:
    contact = f'{CONTACT};+sip.instance="<{INSTANCE}>"'
    first = run(register(contact, extra=GRUU), gruu_secret=GRUU_SECRET)
    second = run(register(contact, extra=GRUU, cseq=2), first.bindings, gruu_secret=GRUU_SECRET)
    assert first.bindings[0].temp_gruu != second.bindings[0].temp_gruu


def test_no_gruus_without_supported_gruu_or_secret() -> None:
    contact = f'{CONTACT};+sip.instance="<{INSTANCE}>"'
    for outcome in (
        run(register(contact), gruu_secret=GRUU_SECRET),
        run(register(contact, extra=GRUU)),
    ):
        assert outcome.bindings[0].temp_gruu is None
        assert "gruu" not in contact_values(outcome)[0]


def test_binding_without_temp_gruu_still_gets_its_public_gruu_listed() -> None:
    contact = f'{CONTACT};+sip.instance="<{INSTANCE}>"'
    current = run(register(contact)).bindings
    outcome = run(register(cseq=2, extra=GRUU), current, gruu_secret=GRUU_SECRET)
    assert contact_values(outcome) == [
        f'<sip:8001@10.1.2.3:5060>;expires=3600;+sip.instance="<{INSTANCE}>"'
        f';pub-gruu="{public_gruu(AOR, INSTANCE)}"'
    ]


def test_instance_ids_are_normalised() -> None:
    contact = f'{CONTACT};+sip.instance="<{INSTANCE.upper().replace("URN:UUID:", "urn:uuid:")}>"'
    assert run(register(contact)).bindings[0].instance_id == INSTANCE


def test_registering_a_gruu_as_aor_is_403() -> None:
    to = f"<sip:8001@{DOMAIN};gr={INSTANCE}>"
    outcome = run(register(CONTACT, to=to))
    assert_refused(
        outcome, 403, f"To URI <sip:8001@{DOMAIN};gr={INSTANCE}> is a GRUU and cannot be registered"
    )


# -- policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_expires": 0}, "min_expires 0 must be at least 1"),
        (
            {"min_expires": 600, "max_expires": 300, "default_expires": 300},
            "max_expires 300 below min_expires 600",
        ),
        ({"default_expires": 7200}, "default_expires 7200 outside 60..3600"),
        ({"max_contacts_per_aor": 0}, "max_contacts_per_aor 0 must be at least 1"),
    ],
)
def test_policy_refuses_inconsistent_settings(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RegistrarPolicy(**kwargs)


def test_response_to_a_parsed_wire_request_round_trips() -> None:
    outcome = run(register(CONTACT))
    assert parse_message(bytes(outcome.response)) == outcome.response

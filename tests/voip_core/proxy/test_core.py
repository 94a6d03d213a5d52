"""The stateful proxy (RFC 3261 §16) over a real transaction layer, phones played as scripts.

See :mod:`tests.voip_core.proxy.harness`: a caller (extension 8000, UDP) calls extension
8001, registered from phone A and B (UDP) and phone C (TCP connection 7). No sockets, no
sleeps; every test that runs a call to its end also checks that once every timer has run,
no transaction, response context or Timer C is left.

RFC requirements covered:

* §16.2 / §17.2.1: 100 Trying at once for INVITE; 100 from a branch is not forwarded.
* §16.3: 416 for an unsupported URI scheme, 483 at Max-Forwards 0, 482 for a loop (a
  spiral with another Request-URI is forwarded), 420 with Unsupported for Proxy-Require;
  §8.2.2.3 420 for Require on a request we answer ourselves (REGISTER, OPTIONS).
* §16.4: our Route entries are removed; the flow token of the last one names the next hop
  (RFC 5626 / RFC 5658 double Record-Route), in both directions of a dialog, and a forged
  token names none; a preloaded foreign Route is followed; an in-dialog request that is
  neither ours nor routed through us is 481, an in-dialog OPTIONS at Max-Forwards 0 is 483.
* §16.5: targets from the numbering plan and the location service, GRUUs (RFC 5627) via
  ``lookup_gruu``; 480 for an extension or GRUU without contacts; 403 for REGISTER to or
  relaying towards a domain we do not serve; OPTIONS to the proxy itself answered 200
  with Allow; the plan's Reject decisions sent with their status and reason.
* §16.6: one client transaction per contact (parallel forking), Request-URI set to the
  contact, Max-Forwards decremented, two Record-Route entries with flow tokens, our Via
  on top with a branch per target and per server transaction (two requests sharing a
  branch from different sent-by addresses stay apart); received/rport noted (RFC 3581).
* §16.7: provisional responses forwarded until the final; every 2xx to INVITE forwarded
  (the first cancels the other branches; later ones go through the Accepted server
  transaction, after a non-2xx final or after the server transaction statelessly), only
  the first 2xx to a non-INVITE; losing the caller's transaction cancels the branches;
  6xx cancels the pending branches and wins; the best final response (lowest class,
  401/407 preferred with merged challenges, 408 and 480 least) once every branch
  completed; a 503 becomes 500 (step 6); TransactionTimeout acts as 408 and a transport
  error as 503 (§16.7 step 2, §8.1.3.1).
* §16.8: Timer C cancels a branch with a provisional response (100 included) and acts as
  408 for a branch that heard nothing.
* §16.10: CANCEL answered 200 and sent to every pending branch, the 487s give the final.
* §16.11 / §16.7: ACK for 2xx and 2xx retransmissions forwarded statelessly; a stray
  response is forwarded only when our Via is on top and another Via follows.
* §22.3: 407 with the authenticator's challenge; trusted networks are not challenged.
* §8.2.7 / §16.6: challenges to REGISTER (401) and to every other method (407, INVITE
  included) and the authenticator's refusals (403) are answered statelessly: no 100
  Trying before, no transaction kept, nothing retransmitted; a retransmission is
  challenged afresh with the same derived To tag, and the ACK of a challenged INVITE is
  absorbed, even when it carries our Route.
* Call records: ringing, confirmed, removed on BYE or failure, bounded oldest first.

Left out: §16.10's stateless forwarding of a CANCEL without a response context (we answer
481 as a transaction-stateful proxy), §16.5's recursion on 3xx (3xx is forwarded as a
final response), §16.6 step 10 (TLS and RFC 3263 DNS), RFC 3326 Reason on CANCEL, busy and
no-answer forwarding of the plan, strict routers (tested in test_routing), PRACK and
UPDATE (RFC 3262, RFC 3311), and IPv6 listeners.
"""

from __future__ import annotations

import pytest

from dialplan.engine import CallerContext, Explanation, Reject
from tests.voip_core.proxy.harness import (
    CALLER,
    CHALLENGE,
    DOMAIN,
    PHONE_A,
    PHONE_B,
    PHONE_C,
    PROXY_HOST,
    QUIET,
    TRUNK,
    ProxyHarness,
    ScriptedRouter,
    ack_for,
    answer,
    cancel_for,
    contact_of,
    in_dialog,
    invite,
    make_config,
    request_to,
    response_to,
    summary,
    trusting,
)
from voip_core.proxy.ports import Challenge
from voip_core.proxy.routing import FlowTokens
from voip_core.sip.message import Request, Response
from voip_core.sip.parser import parse_message
from voip_core.sip.peer import Peer
from voip_core.sip.uri import parse_uri
from voip_core.transaction import ClientKey, Outbound

AOR = f"sip:8001@{DOMAIN}"
PHONE_A_URI = contact_of(PHONE_A).uri
TOKENS = FlowTokens(b"test flow secret")


@pytest.fixture
def h() -> ProxyHarness:
    """A proxy with 8001 registered from phones A, B and C."""
    harness = ProxyHarness()
    harness.location.register(AOR, PHONE_A, PHONE_B, PHONE_C)
    return harness


def ringing(h: ProxyHarness, *phones: Peer) -> tuple[Request, dict[Peer, Request]]:
    """The caller INVITEs 8001; ``phones`` ring (180). Returns the INVITE and each branch."""
    request = invite()
    sent = h.deliver(request, CALLER)
    branches = {o.destination: o.message for o in sent if isinstance(o.message, Request)}
    for phone in phones:
        h.deliver(answer(branches[phone], 180, to_tag=f"tag-{phone.port}"), phone)
    return request, branches


def key_of(sent: list[Outbound], phone: Peer) -> ClientKey:
    """The client transaction key of the request that went to ``phone``."""
    keys = [o.key for o in sent if o.destination == phone and isinstance(o.key, ClientKey)]
    assert len(keys) == 1
    return keys[0]


# -- §16.2, §16.5, §16.6: accepting and forking ---------------------------------------------


def test_invite_gets_100_trying_and_is_forked_to_every_contact(h: ProxyHarness) -> None:
    sent = h.deliver(invite(), CALLER)

    assert summary(sent) == ["100>caller", "INVITE>a", "INVITE>b", "INVITE>c"]
    branches = {request_to(sent, p, "INVITE").top_via().branch for p in (PHONE_A, PHONE_B, PHONE_C)}
    assert len(branches) == 3
    assert h.proxy.calls["call-1@192.168.1.20"].state == "ringing"


def test_forwarded_invite_has_contact_uri_max_forwards_record_route_and_via(
    h: ProxyHarness,
) -> None:
    sent = h.deliver(invite(), CALLER)

    forwarded = request_to(sent, PHONE_C, "INVITE")
    assert str(forwarded.uri) == "sip:8001@192.168.1.33:41000;transport=tcp"
    assert forwarded.header("max-forwards") == "69"
    ours, theirs = forwarded.vias()
    assert (ours.transport, ours.sent_by) == ("TCP", "10.0.0.1:5060")
    assert ours.branch is not None
    assert ours.branch.startswith("z9hG4bK")
    assert theirs.sent_by == "192.168.1.20:5060"
    assert theirs.rport == 5060
    facing_callee, facing_caller = forwarded.record_routes()
    assert str(facing_callee.uri).endswith("@10.0.0.1:5060;transport=tcp;lr")
    assert str(facing_caller.uri).endswith("@10.0.0.1:5060;lr")
    assert TOKENS.decode(facing_callee.sip_uri.user or "") == PHONE_C
    assert TOKENS.decode(facing_caller.sip_uri.user or "") == CALLER
    udp_copy = request_to(sent, PHONE_A, "INVITE")
    assert udp_copy.top_via().transport == "UDP"
    assert udp_copy.top_via().wants_rport


def test_provisional_responses_are_forwarded_but_100_trying_is_not(h: ProxyHarness) -> None:
    _, branches = ringing(h)

    assert h.deliver(answer(branches[PHONE_A], 100), PHONE_A) == []
    sent = h.deliver(answer(branches[PHONE_A], 180, to_tag="a"), PHONE_A)

    assert summary(sent) == ["180>caller"]
    ringback = response_to(sent, CALLER, 180)
    assert [via.sent_by for via in ringback.vias()] == ["192.168.1.20:5060"]
    assert ringback.to().tag == "a"


def test_non_invite_request_is_forked_without_record_route(h: ProxyHarness) -> None:
    sent = h.deliver(invite(method="MESSAGE"), CALLER)

    assert summary(sent) == ["MESSAGE>a", "MESSAGE>b", "MESSAGE>c"]
    assert request_to(sent, PHONE_A, "MESSAGE").header("record-route") is None
    accepted = h.deliver(answer(request_to(sent, PHONE_B, "MESSAGE"), 200), PHONE_B)
    assert summary(accepted) == ["200>caller"]
    assert h.deliver(answer(request_to(sent, PHONE_C, "MESSAGE"), 486), PHONE_C) == []
    assert h.proxy.calls == {}
    h.settle()


def test_second_2xx_to_a_non_invite_request_is_not_forwarded(h: ProxyHarness) -> None:
    sent = h.deliver(invite(method="MESSAGE"), CALLER)
    h.deliver(answer(request_to(sent, PHONE_A, "MESSAGE"), 200, to_tag="a"), PHONE_A)

    late = h.deliver(answer(request_to(sent, PHONE_B, "MESSAGE"), 202, to_tag="b"), PHONE_B)

    assert late == []  # §16.7 step 5: after the final, only a 2xx to INVITE goes on
    h.settle()


# -- §16.7: responses -------------------------------------------------------------------------


def test_first_2xx_is_forwarded_and_the_other_branches_are_cancelled(h: ProxyHarness) -> None:
    request, branches = ringing(h, PHONE_A, PHONE_B)

    sent = h.deliver(answer(branches[PHONE_B], 200, to_tag="b"), PHONE_B)

    assert summary(sent) == ["200>caller", "CANCEL>a"]  # C heard nothing: CANCEL waits (§9.1)
    ok = response_to(sent, CALLER, 200)
    assert ok.to().tag == "b"
    assert len(ok.record_routes()) == 2
    assert h.proxy.calls[request.call_id].state == "confirmed"
    cancel = request_to(sent, PHONE_A, "CANCEL")
    assert cancel.top_via().branch == branches[PHONE_A].top_via().branch
    assert summary(h.deliver(answer(cancel, 200), PHONE_A)) == []
    assert summary(h.deliver(answer(branches[PHONE_A], 487, to_tag="a"), PHONE_A)) == ["ACK>a"]
    late = h.deliver(answer(branches[PHONE_C], 100), PHONE_C)
    assert summary(late) == ["CANCEL>c"]
    h.deliver(answer(request_to(late, PHONE_C, "CANCEL"), 200), PHONE_C)
    assert summary(h.deliver(answer(branches[PHONE_C], 487, to_tag="c"), PHONE_C)) == ["ACK>c"]
    h.settle()
    assert h.proxy.calls[request.call_id].state == "confirmed"  # until the BYE


def test_2xx_from_a_second_branch_is_forwarded_too(h: ProxyHarness) -> None:
    _, branches = ringing(h, PHONE_A, PHONE_B, PHONE_C)
    h.deliver(answer(branches[PHONE_A], 200, to_tag="a"), PHONE_A)

    sent = h.deliver(answer(branches[PHONE_B], 200, to_tag="b"), PHONE_B)  # raced the CANCEL

    assert summary(sent) == ["200>caller"]
    assert response_to(sent, CALLER, 200).to().tag == "b"
    h.deliver(answer(branches[PHONE_C], 487, to_tag="c"), PHONE_C)
    h.settle()


def test_2xx_retransmission_is_forwarded_while_the_branch_is_accepted(h: ProxyHarness) -> None:
    _, branches = ringing(h, PHONE_A)
    ok = answer(branches[PHONE_A], 200, to_tag="a")
    h.deliver(ok, PHONE_A)

    assert summary(h.deliver(ok, PHONE_A)) == ["200>caller"]  # RFC 6026: the TU relays it


@pytest.mark.parametrize(
    ("codes", "best"),
    [
        pytest.param((486, 404, 503), 486, id="4xx-beats-5xx-first-4xx-wins"),
        pytest.param((408, 480, 404), 404, id="408-and-480-are-least-informative"),
        pytest.param((486, 484, 404), 484, id="484-lets-the-caller-fix-the-number"),
        pytest.param((503, 302, 500), 302, id="3xx-is-the-lowest-class"),
    ],
)
def test_best_final_response_is_sent_once_every_branch_failed(
    h: ProxyHarness, codes: tuple[int, int, int], best: int
) -> None:
    request, branches = ringing(h)

    sent: list[Outbound] = []
    for phone, code in zip((PHONE_A, PHONE_B, PHONE_C), codes, strict=True):
        assert not [o for o in sent if o.destination == CALLER]
        sent = h.deliver(answer(branches[phone], code, to_tag=f"t{code}"), phone)

    final = response_to(sent, CALLER, best)
    assert final.to().tag == f"t{best}"
    assert request.call_id not in h.proxy.calls
    h.deliver(ack_for(request, final), CALLER)
    h.settle()


def test_407_challenges_of_several_branches_are_merged(h: ProxyHarness) -> None:
    request, branches = ringing(h)
    realms = {PHONE_A: "a.example", PHONE_B: "b.example"}
    for phone, realm in realms.items():
        challenge = ("Proxy-Authenticate", f'Digest realm="{realm}", nonce="{realm}"')
        h.deliver(answer(branches[phone], 407, extra=[challenge]), phone)

    sent = h.deliver(answer(branches[PHONE_C], 404), PHONE_C)

    final = response_to(sent, CALLER, 407)
    assert final.header_lines("proxy-authenticate") == [
        'Digest realm="a.example", nonce="a.example"',
        'Digest realm="b.example", nonce="b.example"',
    ]


def test_6xx_cancels_the_pending_branches_and_is_the_final_response(h: ProxyHarness) -> None:
    request, branches = ringing(h, PHONE_B)
    h.deliver(answer(branches[PHONE_C], 100), PHONE_C)

    sent = h.deliver(answer(branches[PHONE_A], 603, to_tag="a"), PHONE_A)

    assert summary(sent) == ["ACK>a", "CANCEL>b", "CANCEL>c"]
    assert summary(h.deliver(answer(branches[PHONE_B], 487, to_tag="b"), PHONE_B)) == ["ACK>b"]
    sent = h.deliver(answer(branches[PHONE_C], 487, to_tag="c"), PHONE_C)
    assert summary(sent) == ["ACK>c", "603>caller"]
    h.deliver(ack_for(request, response_to(sent, CALLER, 603)), CALLER)
    h.settle()


def test_branch_timeout_gives_408_upstream() -> None:
    h = ProxyHarness()
    h.location.register(AOR, PHONE_A)
    request = invite()
    h.deliver(request, CALLER)

    sent = h.advance(32.0)  # Timer B = 64*T1

    assert summary(sent) == ["INVITE>a"] * 6 + ["408>caller"]  # Timer A: 0.5, 1, 2, 4, 8, 16
    timeout = response_to(sent, CALLER, 408)
    assert timeout.reason == "Request Timeout"
    assert timeout.to().tag is not None
    h.settle()


def test_transport_error_on_the_only_branch_gives_500_not_503() -> None:
    h = ProxyHarness()
    h.location.register(AOR, PHONE_C)
    sent = h.deliver(invite(), CALLER)

    h.layer.transport_error(key=key_of(sent, PHONE_C))
    sent = h.pump()

    final = response_to(sent, CALLER, 500)
    assert final.reason == "Server Internal Error (downstream unavailable)"
    h.settle()


def test_503_from_downstream_is_forwarded_as_500() -> None:
    h = ProxyHarness()
    h.location.register(AOR, PHONE_A)
    sent = h.deliver(invite(), CALLER)

    sent = h.deliver(answer(request_to(sent, PHONE_A, "INVITE"), 503), PHONE_A)

    assert summary(sent) == ["ACK>a", "500>caller"]


def test_2xx_after_the_non_2xx_final_is_forwarded_statelessly() -> None:
    # Timer C shorter than Timer B, so the branch is still silent when it fires.
    h = ProxyHarness(config=make_config(timer_c=20.0))
    h.location.register(AOR, PHONE_A)
    request = invite()
    branch = request_to(h.deliver(request, CALLER), PHONE_A, "INVITE")
    timed_out = h.advance(20.0)
    assert summary(timed_out)[-1] == "408>caller"

    sent = h.deliver(answer(branch, 200, to_tag="a"), PHONE_A)

    assert summary(sent) == ["200>caller"]
    assert sent[0].key is None  # not through the Completed server transaction
    h.deliver(ack_for(request, response_to(timed_out, CALLER, 408)), CALLER)
    h.settle()


def test_2xx_after_the_server_transaction_ended_is_forwarded_statelessly() -> None:
    h = ProxyHarness(config=make_config(timer_c=20.0))
    h.location.register(AOR, PHONE_A)
    request = invite()
    branch = request_to(h.deliver(request, CALLER), PHONE_A, "INVITE")
    timeout = response_to(h.advance(20.0), CALLER, 408)
    h.deliver(ack_for(request, timeout), CALLER)
    h.advance(5.0)  # Timer I ends the server transaction
    assert h.proxy.context_count == 0

    sent = h.deliver(answer(branch, 200, to_tag="a"), PHONE_A)

    assert summary(sent) == ["200>caller"]
    h.settle()


def test_losing_the_caller_cancels_the_ringing_branches() -> None:
    h = ProxyHarness()
    h.location.register(AOR, PHONE_A, PHONE_B)
    caller = Peer("tcp", "192.168.1.20", 50600, 3)
    request = invite(source=caller)
    branches = {o.destination: o.message for o in h.deliver(request, caller)}
    assert isinstance(branches[PHONE_A], Request)
    h.deliver(answer(branches[PHONE_A], 180, to_tag="a"), PHONE_A)

    h.layer.transport_error(peer=caller)  # the 180 could not be sent: connection gone
    sent = h.pump()

    assert summary(sent) == ["CANCEL>a"]  # B heard nothing yet: its CANCEL waits
    assert h.proxy.context_count == 0
    assert h.proxy.calls == {}
    sent = h.deliver(answer(branches[PHONE_A], 200, to_tag="a"), PHONE_A)  # raced the CANCEL
    assert [o.destination for o in sent] == [caller]  # still forwarded (§16.7 step 5)
    h.settle()


# -- §16.8: Timer C ---------------------------------------------------------------------------


def test_timer_c_cancels_ringing_branches_and_gives_408_for_a_silent_one() -> None:
    h = ProxyHarness(config=make_config(timer_c=20.0))
    h.location.register(AOR, PHONE_A, PHONE_B, PHONE_C)
    request, branches = ringing(h, PHONE_A)
    h.deliver(answer(branches[PHONE_B], 100), PHONE_B)

    sent = h.advance(20.0)

    assert "CANCEL>a" in summary(sent)
    assert "CANCEL>b" in summary(sent)
    assert "CANCEL>c" not in summary(sent)
    h.deliver(answer(branches[PHONE_A], 487, to_tag="a"), PHONE_A)
    sent = h.deliver(answer(branches[PHONE_B], 487, to_tag="b"), PHONE_B)
    final = response_to(sent, CALLER, 487)  # 487 is more specific than C's 408
    h.deliver(ack_for(request, final), CALLER)
    h.settle()


def test_timer_c_cancels_a_branch_that_sent_only_100_trying(h: ProxyHarness) -> None:
    h.location.register(AOR, PHONE_A)
    _, branches = ringing(h)
    h.deliver(answer(branches[PHONE_A], 100), PHONE_A)

    sent = h.advance(180.0)

    assert summary(sent) == ["CANCEL>a"]
    sent = h.advance(32.0)  # the phone never answers: the §9.1 guard ends the branch
    assert summary(sent).count("408>caller") == 1
    assert set(summary(sent)) == {"CANCEL>a", "408>caller"}  # Timer E resends the CANCEL
    h.settle()


def test_timer_c_is_restarted_by_each_provisional_response(h: ProxyHarness) -> None:
    h.location.register(AOR, PHONE_A)
    _, branches = ringing(h, PHONE_A)
    h.advance(170.0)
    h.deliver(answer(branches[PHONE_A], 183, to_tag="a"), PHONE_A)

    assert h.advance(170.0) == []
    assert summary(h.advance(10.0)) == ["CANCEL>a"]


# -- §16.10: CANCEL ---------------------------------------------------------------------------


def test_cancel_is_answered_200_and_sent_to_every_branch_then_487(h: ProxyHarness) -> None:
    request, branches = ringing(h, PHONE_A, PHONE_B)

    sent = h.deliver(cancel_for(request), CALLER)

    assert summary(sent) == ["200>caller", "CANCEL>a", "CANCEL>b"]  # C: queued until a 1xx
    assert response_to(sent, CALLER, 200).cseq().method == "CANCEL"
    for phone in (PHONE_A, PHONE_B):
        h.deliver(answer(request_to(sent, phone, "CANCEL"), 200), phone)
        assert h.deliver(answer(branches[phone], 487, to_tag="x"), phone)[-1].destination == phone
    late = h.deliver(answer(branches[PHONE_C], 180, to_tag="c"), PHONE_C)
    assert summary(late) == ["CANCEL>c", "180>caller"]
    sent = h.deliver(answer(branches[PHONE_C], 487, to_tag="c"), PHONE_C)
    final = response_to(sent, CALLER, 487)
    assert request.call_id not in h.proxy.calls
    h.deliver(ack_for(request, final), CALLER)
    h.settle()


def test_cancel_for_an_unknown_transaction_is_answered_481(h: ProxyHarness) -> None:
    sent = h.deliver(cancel_for(invite()), CALLER)

    final = response_to(sent, CALLER, 481)
    assert final.reason == "Call/Transaction Does Not Exist"
    h.settle()


# -- §16.11, §16.4: dialogs -------------------------------------------------------------------


def established(h: ProxyHarness, phone: Peer) -> tuple[Request, Response, Request]:
    """A call answered by ``phone``: the INVITE, the 200 the caller got, the branch."""
    request, branches = ringing(h, phone)
    sent = h.deliver(answer(branches[phone], 200, to_tag="callee-tag"), phone)
    return request, response_to(sent, CALLER, 200), branches[phone]


def test_ack_for_2xx_follows_the_flow_token_to_the_callee_connection() -> None:
    h = ProxyHarness()
    h.location.register(AOR, PHONE_C)
    request, ok, _ = established(h, PHONE_C)
    route_set = list(reversed(ok.header_lines("record-route")))
    contact = ok.contacts()[0].uri
    ack = in_dialog(
        "ACK", ok, sender=CALLER, uri=str(contact), routes=route_set, cseq=1, from_caller=True
    )

    sent = h.deliver(ack, CALLER)

    assert [o.destination for o in sent] == [PHONE_C]  # connection 7, not the contact's port
    forwarded = sent[0].message
    assert isinstance(forwarded, Request)
    assert forwarded.method == "ACK"
    assert forwarded.header("route") is None
    assert forwarded.header("max-forwards") == "69"
    assert [via.sent_by for via in forwarded.vias()] == ["10.0.0.1:5060", "192.168.1.20:5060"]
    assert forwarded.top_via().transport == "TCP"
    again = h.deliver(ack, CALLER)[0].message
    assert isinstance(again, Request)
    assert again.top_via().branch == forwarded.top_via().branch


def test_bye_from_the_callee_follows_the_flow_token_to_the_caller() -> None:
    h = ProxyHarness()
    h.location.register(AOR, PHONE_C)
    request, ok, branch = established(h, PHONE_C)
    assert h.proxy.calls[request.call_id].state == "confirmed"
    callee_routes = branch.header_lines("record-route")  # the UAS keeps them in order
    bye = in_dialog(
        "BYE",
        ok,
        sender=PHONE_C,
        uri="sip:8000@192.168.1.20:5060",
        routes=callee_routes,
        cseq=1,
        from_caller=False,
    )

    sent = h.deliver(bye, PHONE_C)

    assert summary(sent) == ["BYE>caller"]
    assert request.call_id not in h.proxy.calls
    forwarded = request_to(sent, CALLER, "BYE")
    assert forwarded.header("route") is None
    assert forwarded.header("record-route") is None
    assert summary(h.deliver(answer(forwarded, 200), CALLER)) == ["200>c"]
    h.settle()


def test_bye_from_the_caller_reaches_the_callee_over_its_flow() -> None:
    h = ProxyHarness()
    h.location.register(AOR, PHONE_A)
    request, ok, _ = established(h, PHONE_A)
    route_set = list(reversed(ok.header_lines("record-route")))
    contact = str(ok.contacts()[0].uri)
    bye = in_dialog(
        "BYE", ok, sender=CALLER, uri=contact, routes=route_set, cseq=2, from_caller=True
    )

    sent = h.deliver(bye, CALLER)

    assert summary(sent) == ["BYE>a"]
    assert request.call_id not in h.proxy.calls
    ok_bye = answer(request_to(sent, PHONE_A, "BYE"), 200)
    assert summary(h.deliver(ok_bye, PHONE_A)) == ["200>caller"]
    h.settle()


def test_in_dialog_request_without_our_route_for_a_foreign_host_is_481(h: ProxyHarness) -> None:
    _, ok, _ = established(h, PHONE_A)
    bye = in_dialog(
        "BYE", ok, sender=CALLER, uri="sip:8001@192.168.9.9", routes=(), cseq=2, from_caller=True
    )

    sent = h.deliver(bye, CALLER)

    assert response_to(sent, CALLER, 481).reason == "Call/Transaction Does Not Exist"


def test_in_dialog_request_through_a_route_without_flow_token_follows_the_next_route(
    h: ProxyHarness,
) -> None:
    _, ok, _ = established(h, PHONE_A)
    routes = ("<sip:10.0.0.1:5060;lr>", "<sip:192.168.7.7:5080;lr>")
    info = in_dialog(
        "INFO",
        ok,
        sender=CALLER,
        uri="sip:8001@192.168.1.31",
        routes=routes,
        cseq=2,
        from_caller=True,
    )

    sent = h.deliver(info, CALLER)

    assert [o.destination for o in sent] == [Peer("udp", "192.168.7.7", 5080)]
    assert request_to(sent, Peer("udp", "192.168.7.7", 5080), "INFO").header_values("route") == [
        "<sip:192.168.7.7:5080;lr>"
    ]


def test_in_dialog_request_through_a_route_without_flow_token_goes_to_the_request_uri(
    h: ProxyHarness,
) -> None:
    _, ok, _ = established(h, PHONE_A)
    info = in_dialog(
        "INFO",
        ok,
        sender=CALLER,
        uri="sip:8001@192.168.1.31:5064",
        routes=("<sip:10.0.0.1;lr>",),
        cseq=2,
        from_caller=True,
    )

    assert [o.destination for o in h.deliver(info, CALLER)] == [Peer("udp", "192.168.1.31", 5064)]


def test_in_dialog_request_for_a_tel_uri_without_next_hop_is_416(h: ProxyHarness) -> None:
    _, ok, _ = established(h, PHONE_A)
    info = in_dialog(
        "INFO",
        ok,
        sender=CALLER,
        uri="tel:+8613800000001",
        routes=("<sip:10.0.0.1;lr>",),
        cseq=2,
        from_caller=True,
    )

    sent = h.deliver(info, CALLER)

    assert response_to(sent, CALLER, 416).reason == "Unsupported URI Scheme"


@pytest.mark.parametrize(
    ("routes", "max_forwards", "uri", "destination"),
    [
        pytest.param(
            ("<sip:10.0.0.1;lr>", "<sip:192.168.7.7;lr>"),
            70,
            "sip:8001@192.168.1.31",
            Peer("udp", "192.168.7.7", 5060),
            id="next-route",
        ),
        pytest.param(
            ("<sip:10.0.0.1;lr>",),
            None,
            "sip:8001@192.168.1.31:5064",
            Peer("udp", "192.168.1.31", 5064),
            id="request-uri",
        ),
    ],
)
def test_ack_through_a_route_without_flow_token_follows_the_route_set(
    h: ProxyHarness, routes: tuple[str, ...], max_forwards: int | None, uri: str, destination: Peer
) -> None:
    _, ok, _ = established(h, PHONE_A)
    ack = in_dialog(
        "ACK",
        ok,
        sender=CALLER,
        uri=uri,
        routes=routes,
        cseq=1,
        from_caller=True,
        max_forwards=max_forwards,
    )

    sent = h.deliver(ack, CALLER)

    assert [o.destination for o in sent] == [destination]
    assert sent[0].message.header("max-forwards") == ("69" if max_forwards else "70")


@pytest.mark.parametrize(
    ("routes", "uri", "max_forwards"),
    [
        pytest.param(("<sip:10.0.0.1;lr>",), "tel:+8613800000001", 70, id="no-next-hop"),
        pytest.param(("<sip:10.0.0.1;lr>",), "sip:8001@192.168.1.31", 0, id="max-forwards-0"),
        pytest.param(
            ("<sip:10.0.0.1;lr>", "<tel:+8613800000001>"),
            "sip:8001@192.168.1.31",
            70,
            id="next-route-not-sip",
        ),
    ],
)
def test_ack_that_cannot_be_forwarded_is_dropped(
    h: ProxyHarness, routes: tuple[str, ...], uri: str, max_forwards: int
) -> None:
    _, ok, _ = established(h, PHONE_A)
    ack = in_dialog(
        "ACK",
        ok,
        sender=CALLER,
        uri=uri,
        routes=routes,
        cseq=1,
        from_caller=True,
        max_forwards=max_forwards,
    )

    assert h.deliver(ack, CALLER) == []


def test_ack_without_our_route_follows_the_answering_flow(h: ProxyHarness) -> None:
    # SIPp's built-in uac ignores Record-Route: its ACK arrives with no Route at all.
    _, ok, _ = established(h, PHONE_A)
    ack = in_dialog(
        "ACK", ok, sender=CALLER, uri="sip:8001@10.0.0.1", routes=(), cseq=1, from_caller=True
    )

    sent = h.deliver(ack, CALLER)

    assert [o.destination for o in sent] == [PHONE_A]


def test_ack_without_route_for_an_unknown_call_is_dropped(h: ProxyHarness) -> None:
    _, ok, _ = established(h, PHONE_A)
    ack = in_dialog(
        "ACK", ok, sender=CALLER, uri="sip:8001@10.0.0.1", routes=(), cseq=1, from_caller=True
    )
    stranger = ack.set_header("Call-ID", "never-seen@192.168.1.20")

    assert h.deliver(stranger, CALLER) == []


def test_ack_with_a_malformed_route_is_dropped(h: ProxyHarness) -> None:
    _, ok, _ = established(h, PHONE_A)
    ack = in_dialog(
        "ACK",
        ok,
        sender=CALLER,
        uri="sip:8001@192.168.1.31",
        routes=("<sip:10.0.0.1;lr>",),
        cseq=1,
        from_caller=True,
    )
    # The parser refuses such a Route; a message built in-process can still carry one.
    broken = ack.remove("route").insert_first("Route", "<sip:10.0.0.1;lr")
    h.layer.receive(broken, CALLER, h.now)

    assert h.pump() == []


# -- stray responses (§16.7, §18.2.2) ---------------------------------------------------------


def test_stray_2xx_retransmission_with_our_via_on_top_is_forwarded() -> None:
    h = ProxyHarness()
    h.location.register(AOR, PHONE_A)
    request, branches = ringing(h, PHONE_A)
    ok = answer(branches[PHONE_A], 200, to_tag="a")
    h.deliver(ok, PHONE_A)
    h.advance(60.0)  # Timers L and M: both transactions and the context are gone
    assert len(h.layer) == 0

    sent = h.deliver(ok, PHONE_A)

    assert summary(sent) == ["200>caller"]
    assert [via.sent_by for via in response_to(sent, CALLER, 200).vias()] == ["192.168.1.20:5060"]


@pytest.mark.parametrize(
    ("status", "vias", "cseq"),
    [
        pytest.param(
            200,
            ("SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKx", "SIP/2.0/UDP 192.168.1.20:5060"),
            "1 INVITE",
            id="not-our-via",
        ),
        pytest.param(
            200, ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx",), "1 INVITE", id="nothing-left"
        ),
        pytest.param(
            180,
            ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx", "SIP/2.0/UDP 192.168.1.20:5060"),
            "1 INVITE",
            id="provisional",
        ),
        pytest.param(
            200,
            ("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx", "SIP/2.0/UDP 192.168.1.20:5060"),
            "2 BYE",
            id="not-invite",
        ),
    ],
)
def test_stray_response_that_is_not_ours_to_forward_is_dropped(
    h: ProxyHarness, status: int, vias: tuple[str, ...], cseq: str
) -> None:
    lines = [
        f"SIP/2.0 {status} Whatever",
        *(f"Via: {via}" for via in vias),
        f"From: <sip:8000@{DOMAIN}>;tag=f",
        f"To: <sip:8001@{DOMAIN}>;tag=t",
        "Call-ID: stray@192.168.1.31",
        f"CSeq: {cseq}",
        "Content-Length: 0",
        "",
        "",
    ]
    stray = parse_message("\r\n".join(lines).encode())

    assert h.deliver(stray, PHONE_A) == []
    h.settle()


# -- §16.3 validation -------------------------------------------------------------------------


def test_request_that_loops_back_is_refused_482_but_a_spiral_is_forwarded(h: ProxyHarness) -> None:
    request = invite()
    forwarded = request_to(h.deliver(request, CALLER), PHONE_A, "INVITE")
    # Phone A is a misconfigured forwarder: it sends the INVITE back to the AOR.
    looped = forwarded.with_uri(request.uri).prepend(
        "Via", "SIP/2.0/UDP 192.168.1.31:5060;branch=z9hG4bKloop"
    )

    sent = h.deliver(looped, PHONE_A)

    assert response_to(sent, PHONE_A, 482).reason == "Loop Detected"
    spiral = looped.with_uri(parse_uri("sip:8001@10.0.0.1"))  # retargeted: a spiral
    spiral = spiral.pop_first_value("via").prepend(
        "Via", "SIP/2.0/UDP 192.168.1.31:5060;branch=z9hG4bKspiral"
    )
    assert summary(h.deliver(spiral, PHONE_A)) == ["100>a", "INVITE>a", "INVITE>b", "INVITE>c"]


@pytest.mark.parametrize(
    ("request_", "status", "reason"),
    [
        pytest.param(invite(max_forwards=0), 483, "Too Many Hops", id="max-forwards"),
        pytest.param(
            invite("mailto:8001@county.gov.cn"), 416, "Unsupported URI Scheme", id="scheme"
        ),
        pytest.param(
            invite(extra=["Proxy-Require: foo, bar"]), 420, "Bad Extension", id="proxy-require"
        ),
        pytest.param(
            invite(f"sip:{DOMAIN}", method="OPTIONS", extra=["Require: 100rel"]),
            420,
            "Bad Extension",
            id="require-options",
        ),
        pytest.param(
            invite(f"sip:{DOMAIN}", method="REGISTER", extra=["Require: foo"]),
            420,
            "Bad Extension",
            id="require-register",
        ),
        pytest.param(
            invite(f"sip:{DOMAIN}", max_forwards=None),
            404,
            "Not Found (no user in Request-URI)",
            id="no-user",
        ),
    ],
)
def test_invalid_request_is_refused_with_its_status(
    h: ProxyHarness, request_: Request, status: int, reason: str
) -> None:
    sent = h.deliver(request_, CALLER)

    response = sent[-1].message
    assert isinstance(response, Response)
    assert (response.status_code, response.reason) == (status, reason)
    assert response.to().tag is not None
    assert response.header("server") == "Ronghe"
    h.settle()


def test_bad_extension_lists_what_is_unsupported(h: ProxyHarness) -> None:
    sent = h.deliver(invite(extra=["Proxy-Require: foo, bar"]), CALLER)

    assert response_to(sent, CALLER, 420).header_values("unsupported") == ["foo", "bar"]


# -- policy: ourselves, foreign domains, authentication -----------------------------------------


def test_options_to_the_proxy_is_answered_200_with_allow(h: ProxyHarness) -> None:
    sent = h.deliver(invite(f"sip:{DOMAIN}", method="OPTIONS", credentials=False), CALLER)

    ok = response_to(sent, CALLER, 200)
    assert "INVITE" in ok.header_values("allow")
    assert "REGISTER" in ok.header_values("allow")
    assert ok.header("accept") == "application/sdp"
    assert ok.header_values("supported") == ["gruu", "outbound", "path"]
    assert h.authenticator.asked == []


@pytest.mark.parametrize("max_forwards", ["0", "00"])
def test_options_with_max_forwards_0_to_a_user_is_answered_by_the_proxy(
    h: ProxyHarness, max_forwards: str
) -> None:
    sent = h.deliver(invite(method="OPTIONS", max_forwards=max_forwards), CALLER)

    ok = response_to(sent, CALLER, 200)  # §16.3 step 3 / §11: as its final recipient
    assert summary(sent) == ["200>caller"]
    assert "INVITE" in ok.header_values("allow")
    assert len(h.layer) == 1  # answered in its transaction, not forwarded
    h.settle()


@pytest.mark.parametrize("max_forwards", ["0", "00"])
def test_invite_with_max_forwards_0_is_483_not_forwarded(
    h: ProxyHarness, max_forwards: str
) -> None:
    sent = h.deliver(invite(max_forwards=max_forwards), CALLER)

    assert summary(sent) == ["483>caller"]
    assert response_to(sent, CALLER, 483).reason == "Too Many Hops"


@pytest.mark.parametrize(("method", "max_forwards"), [("OPTIONS", "1"), ("INVITE", "01")])
def test_request_with_max_forwards_1_is_forwarded_with_0(
    h: ProxyHarness, method: str, max_forwards: str
) -> None:
    sent = h.deliver(invite(method=method, max_forwards=max_forwards), CALLER)

    forwarded = request_to(sent, PHONE_A, method)
    assert forwarded.header("max-forwards") == "0"
    assert forwarded.max_forwards() == 0


def test_ack_with_max_forwards_1_is_forwarded_with_0_and_at_00_dropped() -> None:
    h = ProxyHarness()
    h.location.register(AOR, PHONE_A)
    request = invite()
    forwarded = request_to(h.deliver(request, CALLER), PHONE_A, "INVITE")
    ok = response_to(h.deliver(answer(forwarded, 200), PHONE_A), CALLER, 200)
    routes = tuple(reversed(ok.header_values("record-route")))

    def ack(max_forwards: str) -> Request:
        return in_dialog(
            "ACK",
            ok,
            sender=CALLER,
            uri=str(PHONE_A_URI),
            routes=routes,
            cseq=1,
            from_caller=True,
            max_forwards=max_forwards,
        )

    [sent] = h.deliver(ack("1"), CALLER)
    assert sent.destination == PHONE_A
    assert sent.message.header("max-forwards") == "0"
    assert h.deliver(ack("00"), CALLER) == []


def test_register_for_our_domain_goes_to_the_registrar(h: ProxyHarness) -> None:
    sent = h.deliver(invite(f"sip:{DOMAIN}", method="REGISTER", credentials=False), CALLER)

    assert summary(sent) == ["200>caller"]
    assert h.registrar.registered == [(f"sip:{DOMAIN}", CALLER, h.wall)]
    h.settle()


def test_register_challenge_is_stateless(h: ProxyHarness) -> None:
    h.registrar.challenge = True
    register = invite(f"sip:{DOMAIN}", method="REGISTER", credentials=False)

    assert summary(h.deliver(register, CALLER)) == ["401>caller"]
    assert len(h.layer) == 0  # not kept 32 s for Timer J
    # §8.2.7: a retransmission is a new request, challenged again
    assert summary(h.deliver(register, CALLER)) == ["401>caller"]
    assert len(h.registrar.registered) == 2
    assert h.layer.next_timer() is None


def test_accepted_register_keeps_its_transaction_for_retransmissions(h: ProxyHarness) -> None:
    register = invite(f"sip:{DOMAIN}", method="REGISTER", credentials=False)
    h.deliver(register, CALLER)

    assert len(h.layer) == 1
    assert summary(h.deliver(register, CALLER)) == ["200>caller"]  # absorbed, answered again
    assert len(h.registrar.registered) == 1
    h.settle()


@pytest.mark.parametrize("method", ["MESSAGE", "INVITE", "SUBSCRIBE", "OPTIONS"])
def test_challenge_is_stateless_for_every_method(h: ProxyHarness, method: str) -> None:
    message = invite(method=method, credentials=False)

    assert summary(h.deliver(message, CALLER)) == ["407>caller"]  # no 100 Trying before it
    assert len(h.layer) == 0
    assert h.proxy.context_count == 0
    assert h.advance(64 * h.layer.config.t1) == []  # nothing retransmitted (no Timer G)
    # §8.2.7: a retransmission is a new request, challenged again with the same To tag
    again = h.deliver(message, CALLER)
    assert summary(again) == ["407>caller"]
    assert len(h.layer) == 0


def test_ack_of_a_challenged_invite_is_absorbed(h: ProxyHarness) -> None:
    request = invite(credentials=False, extra=[f"Route: <sip:{PROXY_HOST};lr>"])
    challenge = response_to(h.deliver(request, CALLER), CALLER, 407)

    ack = ack_for(request, challenge).insert_first("Route", f"<sip:{PROXY_HOST};lr>")

    assert h.deliver(ack, CALLER) == []  # not forwarded to the Request-URI, not answered
    assert len(h.layer) == 0
    assert h.advance(QUIET) == []


def test_challenge_to_a_retransmitted_invite_carries_the_same_to_tag(h: ProxyHarness) -> None:
    request = invite(credentials=False)

    first = response_to(h.deliver(request, CALLER), CALLER, 407)
    second = response_to(h.deliver(request, CALLER), CALLER, 407)

    assert first.to().tag is not None
    assert first.to().tag == second.to().tag


def test_refusal_of_the_authenticator_is_sent_with_its_status_statelessly(
    h: ProxyHarness,
) -> None:
    h.authenticator.refusal = Challenge(status_code=403, headers=(), reason="Forbidden (blocked)")

    sent = h.deliver(invite(credentials=False), CALLER)

    assert summary(sent) == ["403>caller"]
    refusal = response_to(sent, CALLER, 403)
    assert refusal.reason == "Forbidden (blocked)"
    assert refusal.header("proxy-authenticate") is None
    assert len(h.layer) == 0


def test_authenticated_invite_gets_100_trying_before_it_is_forwarded(h: ProxyHarness) -> None:
    sent = h.deliver(invite(), CALLER)

    assert summary(sent)[0] == "100>caller"
    assert summary(h.deliver(invite(branch=sent[1].message.vias()[1].branch), CALLER)) == [
        "100>caller"
    ]  # a retransmission gets the last response again (§17.2.1)


def test_register_for_a_foreign_domain_is_forbidden(h: ProxyHarness) -> None:
    sent = h.deliver(invite("sip:other.gov.cn", method="REGISTER"), CALLER)

    assert (
        response_to(sent, CALLER, 403).reason == "Forbidden (domain other.gov.cn not served here)"
    )
    assert h.registrar.registered == []


def test_relaying_to_a_foreign_domain_is_forbidden(h: ProxyHarness) -> None:
    sent = h.deliver(invite("sip:8001@other.gov.cn"), CALLER)

    assert response_to(sent, CALLER, 403).reason == "Forbidden (relaying to other.gov.cn denied)"


def test_invite_without_credentials_is_challenged_407(h: ProxyHarness) -> None:
    sent = h.deliver(invite(credentials=False), CALLER)

    assert summary(sent) == ["407>caller"]
    challenge = response_to(sent, CALLER, 407)
    assert challenge.reason == "Proxy Authentication Required"
    assert challenge.header_lines("proxy-authenticate") == [CHALLENGE.headers[0][1]]
    assert h.proxy.context_count == 0


def test_authenticated_caller_is_routed_as_its_extension(h: ProxyHarness) -> None:
    h.deliver(invite(from_user="8099"), CALLER)

    assert h.router.calls == [("8001", CallerContext(extension="8000"))]  # not the From user


def test_trusted_network_is_not_challenged_and_routed_as_the_from_user() -> None:
    h = ProxyHarness(config=trusting("192.168.1.0/24"))
    h.location.register(AOR, PHONE_A)

    sent = h.deliver(invite(credentials=False, from_user="8002"), CALLER)

    assert summary(sent) == ["100>caller", "INVITE>a"]
    assert h.authenticator.asked == []
    assert h.router.calls == [("8001", CallerContext(extension="8002"))]


def test_untrusted_source_outside_the_trusted_network_is_challenged() -> None:
    h = ProxyHarness(config=trusting("10.99.0.0/16"))

    assert summary(h.deliver(invite(credentials=False), CALLER))[-1] == "407>caller"


def test_without_required_authentication_nobody_is_challenged() -> None:
    h = ProxyHarness(config=make_config(require_authentication=False))

    h.deliver(invite(credentials=False), CALLER)

    assert h.authenticator.asked == []
    assert h.router.calls == [("8001", CallerContext(extension="8000"))]


def test_method_that_needs_no_credentials_is_routed_as_an_anonymous_caller(
    h: ProxyHarness,
) -> None:
    h.deliver(invite(method="INFO", credentials=False), CALLER)

    assert h.authenticator.asked == []
    assert h.router.calls == [("8001", CallerContext(extension=None))]


# -- §16.5 targets ----------------------------------------------------------------------------


def test_extension_without_contacts_is_480(h: ProxyHarness) -> None:
    sent = h.deliver(invite(f"sip:8002@{DOMAIN}"), CALLER)

    final = response_to(sent, CALLER, 480)
    assert final.reason == "Temporarily Unavailable (extension 8002 not registered)"
    h.settle()


@pytest.mark.parametrize(
    ("dialed", "status", "reason"),
    [
        ("8003", 403, "Forbidden: extension 8003 is disabled"),
        ("901234", 403, "Forbidden: 声讯台"),
        ("5555", 404, "Not Found: no extension, short number or dial rule matches '5555'"),
        ("80", 484, "Address Incomplete: '80' is the beginning of a longer number"),
        ("7901", 480, "Temporarily Unavailable (conference room 7901 is not in service)"),
    ],
)
def test_plan_decision_that_rings_nobody_is_answered_with_its_status_and_reason(
    h: ProxyHarness, dialed: str, status: int, reason: str
) -> None:
    sent = h.deliver(invite(f"sip:{dialed}@{DOMAIN}"), CALLER)

    final = response_to(sent, CALLER, status)
    assert final.reason == reason
    assert h.proxy.calls == {}


def test_reject_decision_of_the_router_is_sent_as_decided() -> None:
    decision = Reject(503, "Service Unavailable: trunk ct-backup is disabled", Explanation("x", ()))
    h = ProxyHarness(router=ScriptedRouter(decision))

    sent = h.deliver(invite("sip:017951123@county.gov.cn"), CALLER)

    final = response_to(sent, CALLER, 503)  # our own 503, not a downstream one: not made 500
    assert final.reason == "Service Unavailable: trunk ct-backup is disabled"


def test_external_number_goes_to_the_trunk_with_the_transformed_number(h: ProxyHarness) -> None:
    request = invite(f"sip:013912345678@{DOMAIN}")
    sent = h.deliver(request, CALLER)

    forwarded = request_to(sent, TRUNK, "INVITE")
    assert str(forwarded.uri) == "sip:13912345678@10.20.0.1:5070"
    assert forwarded.top_via().transport == "TCP"
    assert h.proxy.calls[request.call_id].callee == "13912345678"


def test_tel_uri_is_routed_through_the_plan(h: ProxyHarness) -> None:
    sent = h.deliver(invite("tel:8001"), CALLER)

    assert summary(sent) == ["100>caller", "INVITE>a", "INVITE>b", "INVITE>c"]


def test_gruu_reaches_only_its_own_contact(h: ProxyHarness) -> None:
    h.location.gruus["urn:uuid:b"] = [contact_of(PHONE_B), contact_of(PHONE_C)]

    sent = h.deliver(invite(f"sip:8001@{DOMAIN};gr=urn:uuid:b"), CALLER)

    assert summary(sent) == ["100>caller", "INVITE>b"]
    assert h.router.calls == []


def test_gruu_without_registered_contact_is_480(h: ProxyHarness) -> None:
    h.location.gruus["urn:uuid:gone"] = []

    sent = h.deliver(invite(f"sip:8001@{DOMAIN};gr=urn:uuid:gone"), CALLER)

    assert response_to(sent, CALLER, 480).reason == "Temporarily Unavailable (GRUU not registered)"


def test_uri_with_gr_that_is_not_our_gruu_is_routed_by_the_plan(h: ProxyHarness) -> None:
    sent = h.deliver(invite(f"sip:8001@{DOMAIN};gr"), CALLER)

    assert summary(sent) == ["100>caller", "INVITE>a", "INVITE>b", "INVITE>c"]


def test_preloaded_route_to_another_proxy_is_followed(h: ProxyHarness) -> None:
    request = invite(extra=["Route: <sip:192.168.5.5;lr>"])

    sent = h.deliver(request, CALLER)

    assert summary(sent) == ["100>caller", "INVITE>udp:192.168.5.5:5060"]
    forwarded = sent[1].message
    assert isinstance(forwarded, Request)
    assert forwarded.uri == request.uri
    assert forwarded.header_values("route") == ["<sip:192.168.5.5;lr>"]


# -- call records -----------------------------------------------------------------------------


def test_call_record_follows_the_call_from_ringing_to_bye(h: ProxyHarness) -> None:
    request, ok, _ = established(h, PHONE_A)
    record = h.proxy.calls[request.call_id]
    assert (record.caller, record.callee, record.state) == ("8000", "8001", "confirmed")
    assert record.started_at == h.wall

    route_set = list(reversed(ok.header_lines("record-route")))
    bye = in_dialog(
        "BYE",
        ok,
        sender=CALLER,
        uri=str(ok.contacts()[0].uri),
        routes=route_set,
        cseq=2,
        from_caller=True,
    )
    h.deliver(bye, CALLER)

    assert h.proxy.calls == {}


def test_in_dialog_options_with_max_forwards_0_is_not_forwarded(h: ProxyHarness) -> None:
    _, ok, _ = established(h, PHONE_A)
    route_set = list(reversed(ok.header_lines("record-route")))
    options = in_dialog(
        "OPTIONS",
        ok,
        sender=CALLER,
        uri=str(ok.contacts()[0].uri),
        routes=route_set,
        cseq=2,
        from_caller=True,
        max_forwards=0,
    )

    sent = h.deliver(options, CALLER)

    assert response_to(sent, CALLER, 483).reason == "Too Many Hops"  # §16.3 step 3


def test_provisional_after_the_2xx_is_not_forwarded(h: ProxyHarness) -> None:
    _, branches = ringing(h, PHONE_A)
    h.deliver(answer(branches[PHONE_A], 200, to_tag="a"), PHONE_A)

    sent = h.deliver(answer(branches[PHONE_B], 180, to_tag="b"), PHONE_B)

    assert summary(sent) == ["CANCEL>b"]  # the queued CANCEL leaves; the 180 stays here


def test_caller_behind_nat_is_recorded_in_its_via(h: ProxyHarness) -> None:
    nat = Peer("udp", "203.0.113.5", 40000)
    request = (
        invite(extra=())
        .pop_first_value("via")
        .insert_first("Via", "SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bKnat;rport")
    )

    sent = h.deliver(request, nat)

    theirs = request_to(sent, PHONE_A, "INVITE").vias()[1]
    assert (theirs.received, theirs.rport) == ("203.0.113.5", 40000)
    assert sent[0].destination == nat  # the 100 Trying goes where the request came from


def test_caller_on_ipv6_is_record_routed_on_the_advertised_address() -> None:
    h = ProxyHarness()
    h.location.register(AOR, PHONE_A)
    caller = Peer("udp", "2001:db8::20", 5060)

    sent = h.deliver(invite(source=caller), caller)

    facing_callee, facing_caller = request_to(sent, PHONE_A, "INVITE").record_routes()
    assert facing_caller.sip_uri.host == "10.0.0.1"  # no IPv6 listener: the UDP one
    assert TOKENS.decode(facing_caller.sip_uri.user or "") == caller


def test_failure_of_an_in_dialog_request_is_forwarded(h: ProxyHarness) -> None:
    _, ok, _ = established(h, PHONE_A)
    route_set = list(reversed(ok.header_lines("record-route")))
    contact = str(ok.contacts()[0].uri)
    bye = in_dialog(
        "BYE", ok, sender=CALLER, uri=contact, routes=route_set, cseq=2, from_caller=True
    )
    forwarded = request_to(h.deliver(bye, CALLER), PHONE_A, "BYE")

    sent = h.deliver(answer(forwarded, 481), PHONE_A)

    assert summary(sent) == ["481>caller"]


def test_call_records_are_bounded_oldest_first(
    h: ProxyHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("voip_core.proxy.context._MAX_CALL_RECORDS", 2)

    for number in range(3):
        h.deliver(invite(call_id=f"call-{number}"), CALLER)

    assert list(h.proxy.calls) == ["call-1", "call-2"]


def test_route_with_a_forged_flow_token_does_not_choose_the_next_hop(h: ProxyHarness) -> None:
    _, ok, _ = established(h, PHONE_A)
    forged = TOKENS.encode(Peer("udp", "198.51.100.66", 5060))[:-2] + "aa"  # bad HMAC
    info = in_dialog(
        "INFO",
        ok,
        sender=CALLER,
        uri="sip:8001@192.168.1.31:5060",
        routes=(f"<sip:{forged}@10.0.0.1:5060;lr>",),
        cseq=2,
        from_caller=True,
    )

    sent = h.deliver(info, CALLER)

    assert [o.destination for o in sent] == [PHONE_A]  # the Request-URI, not the token


def test_requests_sharing_a_branch_from_two_sources_are_forwarded_separately(
    h: ProxyHarness,
) -> None:
    first = invite(branch="z9hG4bKsame")
    other = Peer("udp", "192.168.1.99", 5060)
    second = first.pop_first_value("via").insert_first(
        "Via", f"SIP/2.0/UDP {other.host_port};branch=z9hG4bKsame;rport"
    )
    forwarded = request_to(h.deliver(first, CALLER), PHONE_A, "INVITE")

    sent = h.deliver(second, other)  # another server transaction (§17.2.3: sent-by differs)

    assert summary(sent) == ["100>udp:192.168.1.99:5060", "INVITE>a", "INVITE>b", "INVITE>c"]
    assert request_to(sent, PHONE_A, "INVITE").top_via().branch != forwarded.top_via().branch
    assert h.proxy.context_count == 2


def test_cancel_for_an_invite_we_answered_ourselves_is_answered_200(h: ProxyHarness) -> None:
    request = invite(f"sip:8002@{DOMAIN}")
    h.deliver(request, CALLER)  # 480: nobody registered

    sent = h.deliver(cancel_for(request), CALLER)

    assert summary(sent) == ["200>caller"]  # §9.2: the CANCEL matched a transaction
    assert response_to(sent, CALLER, 200).cseq().method == "CANCEL"

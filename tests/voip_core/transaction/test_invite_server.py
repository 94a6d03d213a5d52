"""INVITE server transaction: RFC 3261 §17.2.1, §17.2.3 and RFC 6026 §7.1/§8.5-§8.7.

Covered:
- §17.2.1 / §16.2: 100 Trying is sent at once (without a To tag, §8.2.6.1), unless the
  layer is told the TU answers quickly.
- §17.2.1: INVITE retransmissions are absorbed and answered with the last response
  (nothing when none was sent yet); the TU sees the request once.
- §17.2.1: a 300-699 moves to Completed; on UDP Timer G retransmits it at intervals
  doubling from T1 and capped at T2; Timer H (64*T1) reports a failure to the TU; on TCP
  nothing is retransmitted.
- §17.2.1: the ACK moves to Confirmed, stops Timer G, is absorbed (not passed up) with its
  retransmissions; Timer I is T4 on UDP and zero on TCP.
- §8.2.7 / RFC 3261 §16.6: a final sent statelessly (a challenge) goes out once and
  ends the transaction: nothing is retransmitted, its ACK reaches the TU matching
  nothing, a retransmitted INVITE is a new request; not after another final.
- RFC 6026: a 2xx moves to Accepted; the transaction does not retransmit it; further 2xx
  from the TU are sent; INVITE retransmissions are absorbed; an ACK that matches is passed
  to the TU; Timer L ends it.
- Misuse: responses after a non-2xx final, non-2xx after a 2xx, and unknown keys raise
  TransactionError.
- §17.2.3: RFC 2543 requests without a magic-cookie branch are matched on Request-URI,
  To tag, From tag, Call-ID, CSeq and top Via; their ACK on the To tag of our response.
- §17.2.4: a transport error is reported and ends the transaction.

Left out:
- 2xx retransmission by the UAS core (§13.3.1.4): TU behaviour.
- Sending responses per §18.2.2 / RFC 3581 (received, rport, maddr): transport adapter.
"""

from __future__ import annotations

import pytest

from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.transaction import (
    AckReceived,
    RequestReceived,
    ServerKey,
    TimerConfig,
    TransactionError,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    TransactionTimeout,
    TransportErrorOccurred,
)

from .harness import CLIENT_HOST, drain_events, exact, make_request, run_timers

CLIENT = Peer("udp", CLIENT_HOST, 5060)
CLIENT_TCP = Peer("tcp", CLIENT_HOST, 40112, 3)


def server_layer(
    request: Request, source: Peer = CLIENT, *, send_trying: bool = True
) -> tuple[TransactionLayer, ServerKey]:
    layer = TransactionLayer(TimerConfig(), send_trying=send_trying)
    layer.receive(request, source, 0.0)
    [event] = drain_events(layer)
    assert isinstance(event, RequestReceived)
    assert event.request == request
    assert event.source == source
    return layer, event.key


def sent(layer: TransactionLayer) -> list[Request | Response]:
    return [outbound.message for outbound in layer.messages_to_send()]


def statuses(layer: TransactionLayer) -> list[int]:
    return [m.status_code for m in sent(layer) if isinstance(m, Response)]


def ack_for(request: Request, response: Response) -> Request:
    """The ACK a client transaction sends for ``response``: same branch, To from response."""
    to = response.header("To")
    assert to is not None
    return make_request(
        "ACK",
        branch=request.top_via().branch or "",
        cseq=request.cseq().number,
        to_tag=response.to().tag,
        call_id=request.call_id,
    )


# -- Proceeding ---------------------------------------------------------------------------


def test_100_trying_is_sent_at_once() -> None:
    invite = make_request()
    layer, key = server_layer(invite)
    [trying] = sent(layer)
    assert isinstance(trying, Response)
    assert trying.status_code == 100
    assert trying.to().tag is None
    assert trying.top_via() == invite.top_via()
    assert layer.server_state(key) is TransactionState.PROCEEDING
    assert layer.server_request(key) == invite
    assert layer.server_source(key) == CLIENT


def test_no_trying_when_the_tu_answers_quickly() -> None:
    invite = make_request()
    layer, key = server_layer(invite, send_trying=False)
    assert sent(layer) == []
    layer.receive(invite, CLIENT, 0.5)  # nothing to resend yet
    assert sent(layer) == []
    assert drain_events(layer) == []


def test_invite_retransmissions_get_the_last_response_and_stay_hidden_from_the_tu() -> None:
    invite = make_request()
    layer, key = server_layer(invite)
    layer.receive(invite, CLIENT, 0.5)
    assert statuses(layer) == [100, 100]
    layer.send_response(key, make_response(invite, 180, to_tag="t"), 0.6)
    layer.receive(invite, CLIENT, 1.5)
    assert statuses(layer) == [180, 180]
    assert drain_events(layer) == []


def test_ack_in_proceeding_is_absorbed() -> None:
    invite = make_request()
    layer, key = server_layer(invite)
    layer.receive(ack_for(invite, make_response(invite, 486, to_tag="t")), CLIENT, 0.1)
    assert drain_events(layer) == []
    assert layer.server_state(key) is TransactionState.PROCEEDING


# -- Completed and Confirmed ---------------------------------------------------------------


def test_timer_g_retransmits_non_2xx_until_timer_h() -> None:
    invite = make_request()
    layer, key = server_layer(invite)
    sent(layer)
    layer.send_response(key, make_response(invite, 486, to_tag="t"), 0.0)
    assert statuses(layer) == [486]
    times = [0.0]
    while (deadline := layer.next_timer()) is not None:
        layer.handle_timer(deadline)
        times.extend([deadline] * len(statuses(layer)))
    assert times == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert drain_events(layer) == [TransactionTimeout(key), TransactionTerminated(key)]
    assert len(layer) == 0


def test_ack_stops_timer_g_and_is_absorbed_in_confirmed() -> None:
    invite = make_request()
    layer, key = server_layer(invite)
    busy = make_response(invite, 486, to_tag="t")
    layer.send_response(key, busy, 0.0)
    run_timers(layer, 2.0)
    assert statuses(layer) == [100, 486, 486, 486]
    ack = ack_for(invite, busy)
    layer.receive(ack, CLIENT, 2.0)
    assert layer.server_state(key) is TransactionState.CONFIRMED
    layer.receive(ack, CLIENT, 2.5)
    layer.receive(invite, CLIENT, 2.6)
    assert drain_events(layer) == []
    assert layer.next_timer() == 7.0  # Timer I = T4
    run_timers(layer, 7.0)
    assert statuses(layer) == []
    assert drain_events(layer) == [TransactionTerminated(key)]


def test_retransmitted_invite_in_completed_gets_the_final_response() -> None:
    invite = make_request()
    layer, key = server_layer(invite)
    layer.send_response(key, make_response(invite, 404, to_tag="t"), 0.0)
    layer.receive(invite, CLIENT, 0.2)
    assert statuses(layer) == [100, 404, 404]


def test_over_tcp_no_timer_g_and_timer_i_is_zero() -> None:
    invite = make_request(transport="TCP")
    layer, key = server_layer(invite, CLIENT_TCP)
    busy = make_response(invite, 486, to_tag="t")
    layer.send_response(key, busy, 0.0)
    assert layer.next_timer() == 32.0  # only Timer H
    layer.receive(ack_for(invite, busy), CLIENT_TCP, 0.1)
    assert drain_events(layer) == [TransactionTerminated(key)]
    assert [outbound.destination for outbound in layer.messages_to_send()] == [
        CLIENT_TCP,
        CLIENT_TCP,
    ]


def test_response_after_non_2xx_final_is_refused() -> None:
    invite = make_request(branch="z9hG4bKfinal")
    layer, key = server_layer(invite)
    layer.send_response(key, make_response(invite, 486, to_tag="t"), 0.0)
    message = "INVITE server transaction z9hG4bKfinal has no transition for FINAL_2XX in COMPLETED"
    with pytest.raises(TransactionError, match=exact(message)):
        layer.send_response(key, make_response(invite, 200, to_tag="t"), 0.1)
    assert layer.server_state(key) is TransactionState.COMPLETED


# -- Accepted (RFC 6026) ------------------------------------------------------------------


def test_2xx_moves_to_accepted_without_retransmissions_of_its_own() -> None:
    invite = make_request()
    layer, key = server_layer(invite)
    ok = make_response(invite, 200, to_tag="t")
    layer.send_response(key, ok, 0.0)
    assert layer.server_state(key) is TransactionState.ACCEPTED
    assert layer.next_timer() == 32.0  # only Timer L
    layer.receive(invite, CLIENT, 0.5)  # absorbed: the TU retransmits 2xx itself
    assert statuses(layer) == [100, 200]
    layer.send_response(key, ok, 0.5)  # ... through the transaction
    layer.send_response(key, make_response(invite, 200, to_tag="other-fork"), 0.6)
    assert statuses(layer) == [200, 200]
    run_timers(layer, 32.0)
    assert drain_events(layer) == [TransactionTerminated(key)]


def test_ack_matching_an_accepted_transaction_goes_to_the_tu() -> None:
    invite = make_request()
    layer, key = server_layer(invite)
    ok = make_response(invite, 200, to_tag="t")
    layer.send_response(key, ok, 0.0)
    ack = ack_for(invite, ok)  # an RFC 2543-style UAC reusing the INVITE's branch
    elsewhere = Peer("udp", CLIENT_HOST, 5062)
    layer.receive(ack, elsewhere, 0.1)
    assert drain_events(layer) == [AckReceived(ack, elsewhere)]
    assert layer.server_state(key) is TransactionState.ACCEPTED


@pytest.mark.parametrize("status", [180, 486])
def test_only_2xx_may_follow_a_2xx(status: int) -> None:
    invite = make_request(branch="z9hG4bKok")
    layer, key = server_layer(invite)
    layer.send_response(key, make_response(invite, 200, to_tag="t"), 0.0)
    name = "PROVISIONAL" if status < 200 else "FINAL_NON_2XX"
    message = f"INVITE server transaction z9hG4bKok has no transition for {name} in ACCEPTED"
    with pytest.raises(TransactionError, match=exact(message)):
        layer.send_response(key, make_response(invite, status, to_tag="t"), 0.1)


# -- stateless finals (§8.2.7) -------------------------------------------------------------


def test_stateless_challenge_to_invite_keeps_no_transaction_and_retransmits_nothing() -> None:
    invite = make_request()
    layer, key = server_layer(invite, send_trying=False)
    challenge = make_response(invite, 407, to_tag="t")

    layer.send_response(key, challenge, 0.1, stateless=True)

    assert sent(layer) == [challenge]  # and no 100 Trying before it
    assert drain_events(layer) == [TransactionTerminated(key)]
    assert len(layer) == 0
    assert layer.next_timer() is None
    run_timers(layer, 0.1 + 64 * layer.config.t1)
    assert sent(layer) == []
    layer.receive(ack_for(invite, challenge), CLIENT, 1.0)
    [ack] = drain_events(layer)
    assert isinstance(ack, AckReceived)  # matched nothing: the TU decides (absorbs) it
    assert len(layer) == 0
    layer.receive(invite, CLIENT, 1.5)  # a retransmission is a new request
    assert [type(e) for e in drain_events(layer)] == [RequestReceived]
    assert len(layer) == 1


def test_stateless_final_after_a_final_is_refused() -> None:
    invite = make_request(branch="z9hG4bKinv")
    layer, key = server_layer(invite)
    layer.send_response(key, make_response(invite, 486, to_tag="t"), 0.1)
    message = (
        "INVITE server transaction z9hG4bKinv has no transition for FINAL_STATELESS in COMPLETED"
    )
    with pytest.raises(TransactionError, match=exact(message)):
        layer.send_response(key, make_response(invite, 407, to_tag="t"), 0.2, stateless=True)
    assert layer.server_state(key) is TransactionState.COMPLETED


# -- misuse and errors --------------------------------------------------------------------


def test_send_response_to_an_unknown_key_is_refused() -> None:
    layer = TransactionLayer(TimerConfig())
    key = ServerKey("z9hG4bKnone", "192.0.2.10:5060", "INVITE")
    with pytest.raises(
        TransactionError,
        match=exact("no server transaction INVITE 'z9hG4bKnone' from 192.0.2.10:5060"),
    ):
        layer.send_response(key, make_response(make_request(), 200), 0.0)


def test_transport_error_is_reported() -> None:
    invite = make_request()
    layer, key = server_layer(invite)
    layer.transport_error(CLIENT, now=0.1)
    assert drain_events(layer) == [TransportErrorOccurred(key), TransactionTerminated(key)]
    with pytest.raises(TransactionError):
        layer.send_response(key, make_response(invite, 200), 0.2)


# -- RFC 2543 fallback (§17.2.3) ---------------------------------------------------------


def test_rfc2543_invite_retransmission_is_matched_without_a_branch() -> None:
    invite = make_request(branch="")
    layer, key = server_layer(invite)
    assert key.is_legacy
    layer.receive(make_request(branch=""), CLIENT, 0.5)
    assert statuses(layer) == [100, 100]
    assert drain_events(layer) == []
    # a different CSeq number is a new transaction
    layer.receive(make_request(branch="", cseq=2), CLIENT, 0.6)
    assert [type(event) for event in drain_events(layer)] == [RequestReceived]


def test_rfc2543_invite_with_old_style_branch_uses_the_fallback() -> None:
    layer, key = server_layer(make_request(branch="1234-old"))
    assert key.is_legacy
    assert key.sent_by == "192.0.2.10:5060"
    layer.receive(make_request(branch="1234-old", uri="sip:carol@example.com"), CLIENT, 0.5)
    assert len(layer) == 2  # another Request-URI: another transaction


def test_rfc2543_ack_matches_on_the_to_tag_of_our_final_response() -> None:
    invite = make_request(branch="")
    layer, key = server_layer(invite)
    busy = make_response(invite, 486, to_tag="srv")
    layer.send_response(key, busy, 0.0)
    stranger = make_request("ACK", branch="", to_tag="someone-else")
    layer.receive(stranger, CLIENT, 0.1)
    assert drain_events(layer) == [AckReceived(stranger, CLIENT)]
    layer.receive(make_request("ACK", branch="", to_tag="srv"), CLIENT, 0.2)
    assert drain_events(layer) == []
    assert layer.server_state(key) is TransactionState.CONFIRMED
    run_timers(layer, 10.0)
    assert len(layer) == 0
    assert key not in layer


def test_rfc2543_error_messages_name_the_request() -> None:
    invite = make_request(branch="")
    layer, key = server_layer(invite)
    layer.send_response(key, make_response(invite, 486, to_tag="srv"), 0.0)
    message = (
        "INVITE server transaction (RFC 2543 INVITE from 192.0.2.10:5060)"
        " has no transition for FINAL_NON_2XX in COMPLETED"
    )
    with pytest.raises(TransactionError, match=exact(message)):
        layer.send_response(key, make_response(invite, 486, to_tag="srv"), 0.1)

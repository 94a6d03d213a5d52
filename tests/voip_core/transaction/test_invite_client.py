"""INVITE client transaction: RFC 3261 §17.1.1, §9.1 (CANCEL) and RFC 6026 §8.4.

Covered:
- §17.1.1.2: the INVITE is sent at once; Timer A retransmits at T1, 2*T1, 4*T1... with no
  cap on UDP and never on TCP; Timer B (64*T1) reports a timeout to the TU from Calling.
- §17.1.1.2: a provisional response stops retransmissions and Timer B; provisional
  responses are passed up in Calling and Proceeding.
- §17.1.1.2/§17.1.1.3: a 300-699 is passed up once and answered with an ACK built by the
  transaction (Request-URI, Call-ID, From, CSeq number from the INVITE, To from the
  response, the single top Via, the Route headers); every retransmission of it gets the
  same ACK and is not passed up; Timer D is 32 s on UDP and zero on TCP.
- RFC 6026 §8.4: a 2xx moves to Accepted; further 2xx are passed up; Timer M ends it.
- Late 1xx after a final response are absorbed.
- §9.1: CANCEL is not sent before a provisional response (queued by cancel_client, sent
  with the first 1xx), goes out at once in Proceeding, is dropped after a final response,
  is sent once, carries the INVITE's top Via, Request-URI, To, From, Call-ID, CSeq number
  and Route headers and no Require; without a final response 64*T1 after the CANCEL the
  INVITE transaction is destroyed.
- §17.1.4: a transport error is reported and ends the transaction.

Left out:
- Timer C and the 408/487 a proxy synthesises: TU behaviour (§16.6, §16.7).
- ACK for 2xx: built and sent by the TU (§13.2.2.4), see test_layer.py for its routing.
- DNS failover to the next server after a timeout (RFC 3263): TU behaviour.
"""

from __future__ import annotations

import pytest

from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.transaction import (
    ClientKey,
    RequestReceived,
    ResponseReceived,
    TimerConfig,
    TransactionError,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    TransactionTimeout,
    TransportErrorOccurred,
)

from .harness import SERVER_HOST, TransactionPair, drain_events, exact, make_request, run_timers

SERVER = Peer("udp", SERVER_HOST, 5060)
SERVER_TCP = Peer("tcp", SERVER_HOST, 5060)


def client_layer(
    request: Request, destination: Peer = SERVER
) -> tuple[TransactionLayer, ClientKey]:
    layer = TransactionLayer(TimerConfig())
    key = layer.start_client(request, destination, 0.0)
    return layer, key


def sent(layer: TransactionLayer) -> list[Request | Response]:
    return [outbound.message for outbound in layer.messages_to_send()]


def lose_requests(number: int, direction: str, message: Request | Response) -> bool:
    return direction == "C>S"


# -- retransmission and timeout ----------------------------------------------------------


def test_invite_client_retransmits_with_timer_a_doubling_until_timer_b() -> None:
    pair = TransactionPair(drop=lose_requests)
    key = pair.start(make_request())
    pair.advance(40.0)
    assert pair.log == ["C>S INVITE dropped"] * 7
    assert pair.times == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert pair.client_events == [TransactionTimeout(key), TransactionTerminated(key)]
    assert len(pair.client) == 0
    assert pair.client.next_timer() is None


def test_invite_client_over_tcp_never_retransmits_but_times_out() -> None:
    pair = TransactionPair(transport="tcp", drop=lose_requests)
    key = pair.start(make_request(transport="TCP"))
    pair.advance(31.9)
    assert pair.client_events == []
    pair.advance(0.2)
    assert pair.log == ["C>S INVITE dropped"]
    assert pair.client_events == [TransactionTimeout(key), TransactionTerminated(key)]


def test_provisional_response_stops_retransmissions_and_timer_b() -> None:
    pair = TransactionPair()
    key = pair.start(make_request())
    assert pair.take_log() == ["C>S INVITE", "S>C 100"]
    pair.advance(100.0)
    assert pair.take_log() == []
    assert pair.client.client_state(key) is TransactionState.PROCEEDING
    assert [type(event) for event in pair.client_events] == [ResponseReceived]


def test_lost_trying_means_retransmission_and_resent_trying() -> None:
    pair = TransactionPair(drop={2})
    pair.start(make_request())
    pair.advance(0.5)
    assert pair.take_log() == ["C>S INVITE", "S>C 100 dropped", "C>S INVITE", "S>C 100"]
    pair.advance(10.0)
    assert pair.take_log() == []
    assert len([e for e in pair.server_events if isinstance(e, RequestReceived)]) == 1


def test_provisional_responses_are_passed_up_in_calling_and_proceeding() -> None:
    layer, key = client_layer(make_request())
    request = layer.client_request(key)
    ringing = make_response(request, 180, to_tag="a")
    progress = make_response(request, 183, to_tag="a")
    layer.receive(ringing, SERVER, 0.1)
    layer.receive(progress, SERVER, 0.2)
    assert drain_events(layer) == [ResponseReceived(key, ringing), ResponseReceived(key, progress)]


# -- non-2xx final responses ----------------------------------------------------------------


def test_non_2xx_is_passed_up_and_acked_by_the_transaction() -> None:
    invite = make_request(
        routes=["<sip:p1.county.gov.cn;lr>", "<sip:p2.county.gov.cn;lr>"], to_tag=None, cseq=7
    )
    layer, key = client_layer(invite)
    assert sent(layer) == [invite]
    busy = make_response(invite, 486, to_tag="uas-tag")
    layer.receive(busy, SERVER, 1.0)
    assert drain_events(layer) == [ResponseReceived(key, busy)]
    [ack] = sent(layer)
    assert isinstance(ack, Request)
    assert ack.method == "ACK"
    assert ack.uri == invite.uri
    assert [str(via) for via in ack.vias()] == [str(invite.top_via())]
    assert ack.header_lines("Route") == ["<sip:p1.county.gov.cn;lr>", "<sip:p2.county.gov.cn;lr>"]
    assert ack.to().tag == "uas-tag"
    assert ack.from_() == invite.from_()
    assert ack.call_id == invite.call_id
    assert str(ack.cseq()) == "7 ACK"
    assert ack.header("Max-Forwards") == "70"
    assert not ack.has_header("Require")
    assert not ack.has_header("Contact")
    assert ack.body == b""
    assert layer.client_state(key) is TransactionState.COMPLETED


def test_ack_keeps_only_the_top_via_of_a_combined_via_header() -> None:
    invite = make_request(branch="z9hG4bKtop").insert_first(
        "Via",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKmine, SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKold",
    )
    layer, key = client_layer(invite)
    assert key.branch == "z9hG4bKmine"
    sent(layer)
    layer.receive(make_response(invite, 404, to_tag="x"), SERVER, 0.1)
    [ack] = sent(layer)
    assert ack.header_lines("Via") == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKmine"]


def test_retransmitted_non_2xx_gets_the_same_ack_and_is_not_passed_up() -> None:
    pair = TransactionPair(drop={4})  # the first ACK is lost
    key = pair.start(make_request())
    pair.answer(pair.server_key(), 603)
    assert pair.take_log() == ["C>S INVITE", "S>C 100", "S>C 603", "C>S ACK dropped"]
    pair.advance(0.5)  # Timer G
    assert pair.take_log() == ["S>C 603", "C>S ACK"]
    finals = [
        e
        for e in pair.client_events
        if isinstance(e, ResponseReceived) and e.response.status_code == 603
    ]
    assert len(finals) == 1
    assert pair.client.client_state(key) is TransactionState.COMPLETED


def test_timer_d_keeps_completed_32_seconds_on_udp() -> None:
    layer, key = client_layer(make_request())
    layer.receive(make_response(layer.client_request(key), 500, to_tag="x"), SERVER, 1.0)
    assert layer.next_timer() == 33.0
    layer.handle_timer(32.9)
    assert key in layer
    layer.handle_timer(33.0)
    assert key not in layer
    assert drain_events(layer)[-1] == TransactionTerminated(key)


def test_timer_d_is_zero_on_tcp() -> None:
    layer, key = client_layer(make_request(transport="TCP"), SERVER_TCP)
    busy = make_response(layer.client_request(key), 486, to_tag="x")
    layer.receive(busy, SERVER_TCP, 1.0)
    assert [type(m).__name__ for m in sent(layer)] == ["Request", "Request"]  # INVITE, ACK
    assert drain_events(layer) == [ResponseReceived(key, busy), TransactionTerminated(key)]
    assert len(layer) == 0


def test_late_provisional_and_2xx_after_non_2xx_are_absorbed() -> None:
    layer, key = client_layer(make_request())
    request = layer.client_request(key)
    layer.receive(make_response(request, 480, to_tag="x"), SERVER, 1.0)
    drain_events(layer)
    sent(layer)
    layer.receive(make_response(request, 180, to_tag="x"), SERVER, 1.1)
    layer.receive(make_response(request, 200, to_tag="y"), SERVER, 1.2)
    assert drain_events(layer) == []
    assert sent(layer) == []


# -- 2xx final responses (RFC 6026) -------------------------------------------------------


def test_2xx_moves_to_accepted_and_every_2xx_goes_to_the_tu() -> None:
    pair = TransactionPair()
    key = pair.start(make_request())
    server_key = pair.server_key()
    first = pair.answer(server_key, 200)
    assert pair.client.client_state(key) is TransactionState.ACCEPTED
    assert pair.server.server_state(server_key) is TransactionState.ACCEPTED
    # the server TU retransmits its 2xx through the transaction (RFC 6026 §8.5)
    pair.server.send_response(server_key, first, pair.now)
    pair.flush()
    oks = [
        e
        for e in pair.client_events
        if isinstance(e, ResponseReceived) and e.response.status_code == 200
    ]
    assert len(oks) == 2
    assert pair.take_log() == ["C>S INVITE", "S>C 100", "S>C 200", "S>C 200"]


def test_2xx_in_calling_is_accepted_without_provisional() -> None:
    layer, key = client_layer(make_request())
    ok = make_response(layer.client_request(key), 200, to_tag="x")
    layer.receive(ok, SERVER, 0.2)
    assert layer.client_state(key) is TransactionState.ACCEPTED
    layer.handle_timer(10.0)
    assert sent(layer) == [layer.client_request(key)]  # Timer A was stopped


def test_timer_m_ends_accepted_and_absorbs_other_responses() -> None:
    layer, key = client_layer(make_request())
    request = layer.client_request(key)
    layer.receive(make_response(request, 200, to_tag="x"), SERVER, 1.0)
    drain_events(layer)
    layer.receive(make_response(request, 183, to_tag="x"), SERVER, 2.0)
    layer.receive(make_response(request, 486, to_tag="y"), SERVER, 2.0)
    assert drain_events(layer) == []
    assert layer.next_timer() == 33.0
    layer.handle_timer(33.0)
    assert drain_events(layer) == [TransactionTerminated(key)]


# -- CANCEL (§9.1) --------------------------------------------------------------------------


def test_cancel_waits_for_a_provisional_response() -> None:
    invite = make_request(routes=["<sip:p1.county.gov.cn;lr>"], cseq=3)
    layer, key = client_layer(invite)
    sent(layer)
    cancel_key = layer.cancel_client(key, 0.1)
    assert cancel_key == ClientKey(key.branch, "CANCEL")
    assert sent(layer) == []  # §9.1: not before a provisional response
    assert cancel_key not in layer
    layer.receive(make_response(invite, 180, to_tag="x"), SERVER, 0.3)
    [cancel] = sent(layer)
    assert isinstance(cancel, Request)
    assert cancel.method == "CANCEL"
    assert cancel.uri == invite.uri
    assert [str(via) for via in cancel.vias()] == [str(invite.top_via())]
    assert cancel.to() == invite.to()
    assert cancel.from_() == invite.from_()
    assert cancel.call_id == invite.call_id
    assert str(cancel.cseq()) == "3 CANCEL"
    assert cancel.header_lines("Route") == ["<sip:p1.county.gov.cn;lr>"]
    assert not cancel.has_header("Require")
    assert cancel_key in layer
    assert layer.client_state(cancel_key) is TransactionState.TRYING


def test_cancel_in_proceeding_goes_out_at_once_with_extra_headers() -> None:
    layer, key = client_layer(make_request())
    layer.receive(make_response(layer.client_request(key), 100), SERVER, 0.1)
    sent(layer)
    reason = 'SIP;cause=200;text="Call completed elsewhere"'
    cancel_key = layer.cancel_client(key, 0.2, headers=[("Reason", reason)])
    [cancel] = sent(layer)
    assert isinstance(cancel, Request)
    assert cancel.header("Reason") == reason
    assert cancel_key is not None
    assert layer.client_request(cancel_key) == cancel


def test_cancel_twice_sends_one_cancel() -> None:
    layer, key = client_layer(make_request())
    layer.receive(make_response(layer.client_request(key), 180, to_tag="x"), SERVER, 0.1)
    sent(layer)
    first = layer.cancel_client(key, 0.2)
    second = layer.cancel_client(key, 0.3)
    assert first == second == ClientKey(key.branch, "CANCEL")
    assert [m.method for m in sent(layer) if isinstance(m, Request)] == ["CANCEL"]


def test_cancel_after_final_response_is_a_no_op() -> None:
    layer, key = client_layer(make_request())
    layer.receive(make_response(layer.client_request(key), 486, to_tag="x"), SERVER, 0.1)
    sent(layer)
    assert layer.cancel_client(key, 0.2) is None
    assert sent(layer) == []


def test_cancel_of_an_ended_transaction_is_a_no_op() -> None:
    layer = TransactionLayer(TimerConfig())
    assert layer.cancel_client(ClientKey("z9hG4bKgone", "INVITE"), 0.0) is None


def test_queued_cancel_is_dropped_when_a_final_response_arrives_first() -> None:
    layer, key = client_layer(make_request())
    layer.cancel_client(key, 0.1)
    layer.receive(make_response(layer.client_request(key), 200, to_tag="x"), SERVER, 0.2)
    layer.receive(make_response(layer.client_request(key), 200, to_tag="x"), SERVER, 0.3)
    assert [m.method for m in sent(layer) if isinstance(m, Request)] == ["INVITE"]
    assert layer.cancel_client(key, 0.4) is None


def test_queued_cancel_is_dropped_when_timer_b_fires() -> None:
    layer, key = client_layer(make_request())
    layer.cancel_client(key, 0.1)
    run_timers(layer, 32.0)
    assert [m.method for m in sent(layer) if isinstance(m, Request)] == ["INVITE"] * 7
    assert drain_events(layer) == [TransactionTimeout(key), TransactionTerminated(key)]


def test_cancel_guard_destroys_the_invite_when_no_final_response_follows() -> None:
    layer, key = client_layer(make_request())
    layer.receive(make_response(layer.client_request(key), 180, to_tag="x"), SERVER, 1.0)
    cancel_key = layer.cancel_client(key, 10.0)
    assert cancel_key is not None
    drain_events(layer)
    layer.handle_timer(41.9)
    assert key in layer
    layer.handle_timer(42.0)  # 64*T1 after the CANCEL (§9.1)
    events = drain_events(layer)
    assert TransactionTimeout(key) in events
    assert TransactionTerminated(key) in events
    assert key not in layer


def test_queued_cancel_does_not_duplicate_one_the_tu_started() -> None:
    layer, key = client_layer(make_request())
    layer.cancel_client(key, 0.1)
    cancel_key = layer.start_client(layer.cancel_request(key), SERVER, 0.2)  # TU ignores §9.1
    layer.receive(make_response(layer.client_request(key), 180, to_tag="x"), SERVER, 0.3)
    assert [m.method for m in sent(layer) if isinstance(m, Request)] == ["INVITE", "CANCEL"]
    assert layer.client_state(cancel_key) is TransactionState.TRYING


def test_full_cancel_exchange_ends_both_sides() -> None:
    pair = TransactionPair()
    key = pair.start(make_request())
    invite_key = pair.server_key()
    cancel_key = pair.client.cancel_client(key, pair.now)
    pair.flush()
    [cancel_event] = [
        e for e in pair.server_events if isinstance(e, RequestReceived) and e.key != invite_key
    ]
    assert cancel_event.request.method == "CANCEL"
    assert pair.server.find_invite_server(cancel_event.request) == invite_key
    pair.answer(cancel_event.key, 200)
    pair.answer(invite_key, 487)
    assert pair.take_log() == [
        "C>S INVITE",
        "S>C 100",
        "C>S CANCEL",
        "S>C 200",
        "S>C 487",
        "C>S ACK",
    ]
    statuses = [
        (e.key.method, e.response.status_code)
        for e in pair.client_events
        if isinstance(e, ResponseReceived)
    ]
    assert statuses == [("INVITE", 100), ("CANCEL", 200), ("INVITE", 487)]
    assert cancel_key == ClientKey(key.branch, "CANCEL")
    pair.advance(64 * 0.5 + 5.0)
    assert len(pair.client) == len(pair.server) == 0


def test_cancel_of_a_non_invite_transaction_is_refused() -> None:
    layer, key = client_layer(make_request("OPTIONS"))
    message = "CANCEL applies to INVITE client transactions (RFC 3261 §9.1), not OPTIONS"
    with pytest.raises(TransactionError, match=exact(message)):
        layer.cancel_client(key, 0.0)
    with pytest.raises(TransactionError, match=exact(message)):
        layer.cancel_request(key)


def test_cancel_request_of_an_unknown_transaction_is_refused() -> None:
    layer = TransactionLayer(TimerConfig())
    with pytest.raises(TransactionError, match=exact("no client transaction INVITE z9hG4bKgone")):
        layer.cancel_request(ClientKey("z9hG4bKgone", "INVITE"))


# -- transport errors ---------------------------------------------------------------------


def test_transport_error_in_calling_is_reported_and_ends_the_transaction() -> None:
    layer, key = client_layer(make_request())
    layer.transport_error(SERVER, now=0.1)
    assert drain_events(layer) == [TransportErrorOccurred(key), TransactionTerminated(key)]
    assert layer.next_timer() is None

"""Non-INVITE server transaction: RFC 3261 §17.2.2.

Covered:
- §17.2.2: a new request creates the transaction in Trying and reaches the TU once; the
  layer itself sends no provisional response (RFC 4320 §4.1 limits when a 100 may go to a
  non-INVITE request, which the TU decides).
- §17.2.2: retransmissions are discarded in Trying and answered with the last response in
  Proceeding and Completed.
- §17.2.2: a final response (2xx or not) moves to Completed; Timer J is 64*T1 on UDP and
  zero on TCP; responses are never retransmitted on a timer.
- Misuse: any response after the final one raises TransactionError.
- §8.2.7: a stateless final response (a challenge) is sent once and ends the transaction
  at once, from Trying or Proceeding; a retransmitted request is a new request to the TU;
  a stateless provisional response and a stateless response to INVITE are refused.
- §17.2.4: a transport error is reported and ends the transaction.

Left out:
- RFC 4320's advice to avoid 408 for non-INVITE: TU behaviour.
"""

from __future__ import annotations

import pytest

from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.transaction import (
    RequestReceived,
    ServerKey,
    TimerConfig,
    TransactionError,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    TransportErrorOccurred,
)

from .harness import CLIENT_HOST, drain_events, exact, make_request, run_timers

CLIENT = Peer("udp", CLIENT_HOST, 5060)
CLIENT_TCP = Peer("tcp", CLIENT_HOST, 40112, 3)


def server_layer(request: Request, source: Peer = CLIENT) -> tuple[TransactionLayer, ServerKey]:
    layer = TransactionLayer(TimerConfig())
    layer.receive(request, source, 0.0)
    [event] = drain_events(layer)
    assert isinstance(event, RequestReceived)
    return layer, event.key


def statuses(layer: TransactionLayer) -> list[int]:
    return [
        o.message.status_code for o in layer.messages_to_send() if isinstance(o.message, Response)
    ]


def test_new_request_reaches_the_tu_once_and_retransmissions_are_discarded_in_trying() -> None:
    register = make_request("REGISTER")
    layer, key = server_layer(register)
    assert key.method == "REGISTER"
    assert layer.server_state(key) is TransactionState.TRYING
    layer.receive(register, CLIENT, 0.5)
    layer.receive(register, CLIENT, 1.5)
    assert statuses(layer) == []
    assert drain_events(layer) == []


def test_retransmissions_get_the_last_provisional_then_the_final() -> None:
    bye = make_request("BYE", to_tag="t")
    layer, key = server_layer(bye)
    layer.send_response(key, make_response(bye, 100), 0.1)
    assert layer.server_state(key) is TransactionState.PROCEEDING
    layer.receive(bye, CLIENT, 0.5)
    layer.send_response(key, make_response(bye, 101), 0.6)
    layer.receive(bye, CLIENT, 0.7)
    layer.send_response(key, make_response(bye, 200), 1.0)
    layer.receive(bye, CLIENT, 1.5)
    assert statuses(layer) == [100, 100, 101, 101, 200, 200]
    assert layer.server_state(key) is TransactionState.COMPLETED


@pytest.mark.parametrize("status", [200, 403])
def test_final_response_from_trying_starts_timer_j(status: int) -> None:
    options = make_request("OPTIONS")
    layer, key = server_layer(options)
    layer.send_response(key, make_response(options, status, to_tag="t"), 1.0)
    assert layer.next_timer() == 33.0
    run_timers(layer, 32.9)
    assert statuses(layer) == [status]  # never retransmitted on a timer
    run_timers(layer, 33.0)
    assert drain_events(layer) == [TransactionTerminated(key)]
    assert len(layer) == 0


def test_timer_j_is_zero_on_tcp() -> None:
    options = make_request("OPTIONS", transport="TCP")
    layer, key = server_layer(options, CLIENT_TCP)
    layer.send_response(key, make_response(options, 200, to_tag="t"), 1.0)
    assert drain_events(layer) == [TransactionTerminated(key)]
    assert layer.next_timer() is None


@pytest.mark.parametrize("provisional", [False, True])
def test_stateless_final_ends_the_transaction_at_once(provisional: bool) -> None:
    register = make_request("REGISTER")
    layer, key = server_layer(register)
    if provisional:
        layer.send_response(key, make_response(register, 100), 0.1)
    layer.send_response(key, make_response(register, 401, to_tag="t"), 0.2, stateless=True)
    assert statuses(layer) == ([100, 401] if provisional else [401])
    assert drain_events(layer) == [TransactionTerminated(key)]
    assert len(layer) == 0
    assert key not in layer
    assert layer.next_timer() is None
    # §8.2.7: the retransmission is answered afresh by the TU, in a new transaction
    layer.receive(register, CLIENT, 0.7)
    assert drain_events(layer) == [RequestReceived(key, register, CLIENT)]
    assert layer.server_state(key) is TransactionState.TRYING


def test_stateless_response_must_be_final() -> None:
    options = make_request("OPTIONS", branch="z9hG4bKopt")
    layer, key = server_layer(options)
    with pytest.raises(
        TransactionError, match=exact("a stateless response must be final, not 180")
    ):
        layer.send_response(key, make_response(options, 180), 0.1, stateless=True)
    assert layer.server_state(key) is TransactionState.TRYING


def test_response_after_the_final_one_is_refused() -> None:
    options = make_request("OPTIONS", branch="z9hG4bKopt")
    layer, key = server_layer(options)
    layer.send_response(key, make_response(options, 200, to_tag="t"), 1.0)
    message = (
        "non-INVITE server transaction z9hG4bKopt has no transition for PROVISIONAL in COMPLETED"
    )
    with pytest.raises(TransactionError, match=exact(message)):
        layer.send_response(key, make_response(options, 100), 1.1)


@pytest.mark.parametrize("status", [None, 100, 200])
def test_transport_error_is_reported_in_every_state(status: int | None) -> None:
    message = make_request("MESSAGE")
    layer, key = server_layer(message)
    if status is not None:
        layer.send_response(key, make_response(message, status, to_tag="t"), 0.1)
    layer.transport_error(key=key, now=0.2)
    assert drain_events(layer) == [TransportErrorOccurred(key), TransactionTerminated(key)]

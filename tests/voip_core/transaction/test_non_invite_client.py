"""Non-INVITE client transaction: RFC 3261 §17.1.2.

Covered:
- §17.1.2.2: the request is sent at once; on UDP Timer E retransmits it at intervals
  doubling from T1 and capped at T2; never on TCP.
- §17.1.2.2: in Proceeding Timer E is reset to T2 each time.
- §17.1.2.2: Timer F (64*T1) fires in Trying or Proceeding: the TU is told of the
  timeout (it acts as if a 408 arrived, §8.1.3.1) and the transaction ends.
- §17.1.2.2: provisional responses are passed up; the first final response (2xx or not)
  is passed up and the transaction waits Timer K (T4 on UDP, zero on TCP) in Completed,
  absorbing retransmissions.
- §17.1.4: a transport error is reported and ends the transaction.

Left out:
- The 408 the TU synthesises after a timeout and RFC 4320's rule against sending 408 to
  non-INVITE: TU behaviour.
"""

from __future__ import annotations

from voip_core.sip.message import Request, make_response
from voip_core.sip.peer import Peer
from voip_core.transaction import (
    ClientKey,
    ResponseReceived,
    TimerConfig,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    TransactionTimeout,
    TransportErrorOccurred,
)

from .harness import SERVER_HOST, TransactionPair, drain_events, make_request, run_timers

SERVER = Peer("udp", SERVER_HOST, 5060)
SERVER_TCP = Peer("tcp", SERVER_HOST, 5060, 9)


def client_layer(
    request: Request, destination: Peer = SERVER
) -> tuple[TransactionLayer, ClientKey]:
    layer = TransactionLayer(TimerConfig())
    return layer, layer.start_client(request, destination, 0.0)


def send_times(layer: TransactionLayer, until: float) -> list[float]:
    """Times at which ``layer`` sent something, firing its timers up to ``until``."""
    times = [0.0] * len(layer.messages_to_send())
    while (deadline := layer.next_timer()) is not None and deadline <= until:
        layer.handle_timer(deadline)
        times.extend([deadline] * len(layer.messages_to_send()))
    return times


def test_timer_e_doubles_up_to_t2_then_timer_f_times_out() -> None:
    layer, key = client_layer(make_request("REGISTER"))
    times = send_times(layer, 40.0)
    assert times == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert drain_events(layer) == [TransactionTimeout(key), TransactionTerminated(key)]
    assert len(layer) == 0


def test_timer_e_is_t2_in_proceeding() -> None:
    layer, key = client_layer(make_request("OPTIONS"))
    layer.receive(make_response(layer.client_request(key), 100), SERVER, 0.1)
    assert layer.client_state(key) is TransactionState.PROCEEDING
    assert send_times(layer, 20.0) == [0.0, 0.5, 4.5, 8.5, 12.5, 16.5]


def test_timer_f_times_out_in_proceeding() -> None:
    layer, key = client_layer(make_request("BYE"))
    layer.receive(make_response(layer.client_request(key), 100), SERVER, 0.1)
    run_timers(layer, 32.0)
    events = drain_events(layer)
    assert events[-2:] == [TransactionTimeout(key), TransactionTerminated(key)]


def test_no_retransmission_over_tcp() -> None:
    layer, key = client_layer(make_request("OPTIONS", transport="TCP"), SERVER_TCP)
    assert send_times(layer, 40.0) == [0.0]
    assert drain_events(layer) == [TransactionTimeout(key), TransactionTerminated(key)]


def test_provisional_and_final_responses_are_passed_up_once() -> None:
    pair = TransactionPair(drop={3})  # the 200 is lost the first time
    key = pair.start(make_request("REGISTER"))
    server_key = pair.server_key()
    pair.answer(server_key, 100, to_tag=None)
    pair.answer(server_key, 200)
    assert pair.take_log() == ["C>S REGISTER", "S>C 100", "S>C 200 dropped"]
    pair.advance(0.5)  # Timer E: the retransmission fetches the 200 again
    assert pair.take_log() == ["C>S REGISTER", "S>C 200"]
    pair.advance(4.0)
    assert pair.take_log() == []
    statuses = [
        e.response.status_code for e in pair.client_events if isinstance(e, ResponseReceived)
    ]
    assert statuses == [100, 200]
    assert pair.client.client_state(key) is TransactionState.COMPLETED


def test_final_retransmissions_are_absorbed_in_completed() -> None:
    layer, key = client_layer(make_request("MESSAGE"))
    request = layer.client_request(key)
    failure = make_response(request, 404, to_tag="x")
    layer.receive(failure, SERVER, 0.2)
    layer.receive(failure, SERVER, 0.3)
    layer.receive(make_response(request, 100), SERVER, 0.4)
    layer.receive(make_response(request, 200, to_tag="x"), SERVER, 0.5)
    assert drain_events(layer) == [ResponseReceived(key, failure)]


def test_timer_k_is_t4_on_udp() -> None:
    layer, key = client_layer(make_request("OPTIONS"))
    layer.receive(make_response(layer.client_request(key), 200, to_tag="x"), SERVER, 1.0)
    assert layer.next_timer() == 6.0
    run_timers(layer, 6.0)
    assert key not in layer
    assert layer.next_timer() is None


def test_timer_k_is_zero_on_tcp() -> None:
    layer, key = client_layer(make_request("OPTIONS", transport="TCP"), SERVER_TCP)
    ok = make_response(layer.client_request(key), 200, to_tag="x")
    layer.receive(ok, SERVER_TCP, 1.0)
    assert drain_events(layer) == [ResponseReceived(key, ok), TransactionTerminated(key)]
    assert len(layer) == 0


def test_transport_error_is_reported_in_every_state() -> None:
    for status in (None, 100, 200):
        layer, key = client_layer(make_request("OPTIONS"))
        if status is not None:
            layer.receive(make_response(layer.client_request(key), status, to_tag="x"), SERVER, 0.1)
            drain_events(layer)
        layer.transport_error(key=key)
        assert drain_events(layer) == [TransportErrorOccurred(key), TransactionTerminated(key)]

"""TransactionLayer routing, queries and bookkeeping: RFC 3261 §17.1.3, §17.2.3, §9.2, §17.x.4.

Covered:
- §17.1.3: responses match on top Via branch and CSeq method; anything else (unknown
  branch, no branch, another method with the same branch) is a stray response.
- §17.2.3: requests match on branch, sent-by and method, ACK counting as INVITE; the same
  branch from another sent-by, or with another method, is another transaction.
- §17.2.3 / §13.2.2.4: an ACK matching no transaction (the ACK for a 2xx) is passed up
  and creates no transaction.
- §9.2: a CANCEL never matches the INVITE it cancels; find_invite_server finds that
  INVITE by branch and sent-by, or with the RFC 2543 rules.
- §17.1.4 / §17.2.4: transport errors by key, by address, and by connection.
- start_client refuses requests it cannot own (ACK, no RFC 3261 branch, CSeq mismatch,
  duplicate key, no Via) with exact messages; queries on unknown keys raise.
- The timer heap keeps dead entries bounded, and the layer empties (len == 0, no timer)
  once every timer has fired.
- A lingering transaction (Timers D, I, J, K, L, M) keeps its messages' lines, not the
  values parsed from them, and still answers a retransmission with the same bytes.
- __all__ is sorted and complete.

Left out:
- Checking that a response's top Via sent-by is ours (§18.1.2): transport adapter.
"""

from __future__ import annotations

import random

import pytest

import voip_core.transaction
from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.transaction import (
    AckReceived,
    ClientKey,
    RequestReceived,
    ServerKey,
    StrayResponse,
    TimerConfig,
    TransactionError,
    TransactionLayer,
    TransactionTerminated,
    TransportErrorOccurred,
    new_branch,
)

from .harness import (
    CLIENT_HOST,
    SERVER_HOST,
    TransactionPair,
    drain_events,
    exact,
    label,
    make_request,
    run_timers,
)

CLIENT = Peer("udp", CLIENT_HOST, 5060)
SERVER = Peer("udp", SERVER_HOST, 5060)


def new_layer() -> TransactionLayer:
    return TransactionLayer(TimerConfig())


def statuses(layer: TransactionLayer) -> list[int]:
    return [
        o.message.status_code for o in layer.messages_to_send() if isinstance(o.message, Response)
    ]


def received_keys(layer: TransactionLayer) -> list[ServerKey]:
    return [event.key for event in drain_events(layer) if isinstance(event, RequestReceived)]


# -- response matching --------------------------------------------------------------------


def test_response_with_unknown_branch_is_stray() -> None:
    layer = new_layer()
    response = make_response(make_request(), 200, to_tag="t")
    layer.receive(response, SERVER, 0.0)
    assert drain_events(layer) == [StrayResponse(response, SERVER)]


def test_response_without_branch_is_stray() -> None:
    layer = new_layer()
    response = make_response(make_request(branch=""), 200, to_tag="t")
    layer.receive(response, SERVER, 0.0)
    assert drain_events(layer) == [StrayResponse(response, SERVER)]


def test_response_for_another_method_with_the_same_branch_is_stray() -> None:
    layer = new_layer()
    invite = make_request(branch="z9hG4bKshared")
    layer.start_client(invite, SERVER, 0.0)
    # a CANCEL's response carries the INVITE's branch but CSeq method CANCEL (§17.1.3)
    response = make_response(make_request("CANCEL", branch="z9hG4bKshared"), 200, to_tag="t")
    layer.receive(response, SERVER, 0.1)
    assert drain_events(layer) == [StrayResponse(response, SERVER)]


# -- request matching ---------------------------------------------------------------------


def test_same_branch_from_another_sent_by_is_another_transaction() -> None:
    layer = new_layer()
    layer.receive(make_request(branch="z9hG4bKsame"), CLIENT, 0.0)
    layer.receive(make_request(branch="z9hG4bKsame", via_host="192.0.2.99"), CLIENT, 0.1)
    first, second = received_keys(layer)
    assert first.sent_by == "192.0.2.10:5060"
    assert second.sent_by == "192.0.2.99:5060"
    assert len(layer) == 2


def test_sent_by_host_compares_case_insensitively() -> None:
    layer = new_layer()
    layer.receive(make_request(branch="z9hG4bKcase", via_host="PC33.Example.COM"), CLIENT, 0.0)
    layer.receive(make_request(branch="z9hG4bKcase", via_host="pc33.example.com"), CLIENT, 0.1)
    assert len(received_keys(layer)) == 1


def test_ack_for_2xx_is_passed_up_without_a_transaction() -> None:
    layer = new_layer()
    ack = make_request("ACK", to_tag="t")
    layer.receive(ack, CLIENT, 0.0)
    assert drain_events(layer) == [AckReceived(ack, CLIENT)]
    assert len(layer) == 0
    assert layer.messages_to_send() == []


def test_ack_with_the_invite_branch_after_2xx_reaches_the_tu_once_per_ack() -> None:
    pair = TransactionPair()
    pair.start(make_request(branch="z9hG4bKinv"))
    pair.answer(pair.server_key(), 200)
    ack = make_request("ACK", branch="z9hG4bKnew", to_tag="srv1")
    pair.client.send_stateless(ack, pair.server_peer)
    pair.flush()
    assert [type(e) for e in pair.server_events] == [RequestReceived, AckReceived]
    assert pair.take_log()[-1] == "C>S ACK"


def test_cancel_creates_its_own_transaction_and_finds_its_invite() -> None:
    layer = new_layer()
    invite = make_request(branch="z9hG4bKcan")
    layer.receive(invite, CLIENT, 0.0)
    cancel = make_request("CANCEL", branch="z9hG4bKcan")
    layer.receive(cancel, CLIENT, 0.1)
    invite_key, cancel_key = received_keys(layer)
    assert cancel_key == ServerKey("z9hG4bKcan", "192.0.2.10:5060", "CANCEL")
    assert layer.find_invite_server(cancel) == invite_key
    layer.send_response(cancel_key, make_response(cancel, 200, to_tag="t"), 0.2)
    layer.send_response(invite_key, make_response(invite, 487, to_tag="t"), 0.2)
    assert statuses(layer) == [100, 200, 487]


def test_cancel_without_matching_invite_finds_nothing() -> None:
    layer = new_layer()
    layer.receive(make_request(branch="z9hG4bKinv"), CLIENT, 0.0)
    layer.receive(make_request("OPTIONS", branch="z9hG4bKopt"), CLIENT, 0.0)
    assert layer.find_invite_server(make_request("CANCEL", branch="z9hG4bKother")) is None
    assert (
        layer.find_invite_server(make_request("CANCEL", branch="z9hG4bKinv", via_host="192.0.2.5"))
        is None
    )
    # a CANCEL for a non-INVITE request has no INVITE to cancel (§9.2: the TU answers 200)
    assert layer.find_invite_server(make_request("CANCEL", branch="z9hG4bKopt")) is None


def test_rfc2543_cancel_finds_its_invite() -> None:
    layer = new_layer()
    layer.receive(make_request(branch=""), CLIENT, 0.0)
    [invite_key] = received_keys(layer)
    assert layer.find_invite_server(make_request("CANCEL", branch="")) == invite_key
    assert layer.find_invite_server(make_request("CANCEL", branch="", cseq=2)) is None


def test_rfc2543_non_invite_retransmission_is_matched() -> None:
    layer = new_layer()
    bye = make_request("BYE", branch="", to_tag="t")
    layer.receive(bye, CLIENT, 0.0)
    [key] = received_keys(layer)
    layer.send_response(key, make_response(bye, 200), 0.1)
    layer.receive(make_request("BYE", branch="", to_tag="t"), CLIENT, 0.5)
    assert drain_events(layer) == []
    assert statuses(layer) == [200, 200]


# -- start_client misuse -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("refused", "message"),
    [
        (
            make_request("ACK"),
            "ACK has no client transaction (RFC 3261 §17.1.1.3); use send_stateless",
        ),
        (make_request(branch=""), "top Via branch None of INVITE does not start with z9hG4bK"),
        (make_request(branch="old"), "top Via branch 'old' of INVITE does not start with z9hG4bK"),
        (
            make_request().set_header("CSeq", "1 BYE"),
            "CSeq method BYE does not match request method INVITE",
        ),
        (
            make_request("OPTIONS").remove("Via"),
            "OPTIONS cannot start a client transaction: missing Via header",
        ),
    ],
)
def test_start_client_refuses_requests_it_cannot_own(refused: Request, message: str) -> None:
    layer = new_layer()
    with pytest.raises(TransactionError, match=exact(message)):
        layer.start_client(refused, SERVER, 0.0)
    assert len(layer) == 0
    assert layer.messages_to_send() == []


def test_start_client_refuses_a_duplicate_key() -> None:
    layer = new_layer()
    request = make_request(branch="z9hG4bKdup")
    layer.start_client(request, SERVER, 0.0)
    with pytest.raises(
        TransactionError, match=exact("client transaction z9hG4bKdup INVITE already exists")
    ):
        layer.start_client(request, SERVER, 0.1)


# -- queries ------------------------------------------------------------------------------


def test_queries_on_unknown_keys_raise() -> None:
    layer = new_layer()
    client_key = ClientKey("z9hG4bKx", "BYE")
    server_key = ServerKey("z9hG4bKy", "192.0.2.10", "BYE")
    with pytest.raises(TransactionError, match=exact("no client transaction BYE z9hG4bKx")):
        layer.client_state(client_key)
    with pytest.raises(TransactionError, match=exact("no client transaction BYE z9hG4bKx")):
        layer.client_request(client_key)
    for query in (layer.server_request, layer.server_source, layer.server_state):
        with pytest.raises(
            TransactionError, match=exact("no server transaction BYE 'z9hG4bKy' from 192.0.2.10")
        ):
            query(server_key)
    assert client_key not in layer
    assert server_key not in layer
    assert "z9hG4bKx" not in layer


def test_rfc2543_ack_alias_is_not_a_transaction_key() -> None:
    layer = new_layer()
    invite = make_request(branch="")
    layer.receive(invite, CLIENT, 0.0)
    [key] = received_keys(layer)
    layer.send_response(key, make_response(invite, 486, to_tag="srv"), 0.0)
    ack = make_request("ACK", branch="", to_tag="srv")
    alias = voip_core.transaction.keys.server_key(ack, ack.top_via(), "INVITE")
    assert alias != key
    assert key in layer
    assert alias not in layer
    with pytest.raises(TransactionError):
        layer.server_request(alias)


def test_config_is_exposed() -> None:
    config = TimerConfig(t1=0.25)
    assert TransactionLayer(config).config is config


def test_outputs_drain() -> None:
    layer = new_layer()
    layer.start_client(make_request("OPTIONS"), SERVER, 0.0)
    assert len(layer.messages_to_send()) == 1
    assert layer.messages_to_send() == []
    assert layer.next_event() is None


def test_new_branch_uses_the_injected_random_source() -> None:
    source = random.Random(7)
    branch = new_branch(source.randbytes)
    assert branch == "z9hG4bK" + random.Random(7).randbytes(12).hex()
    assert new_branch().startswith("z9hG4bK")
    assert new_branch() != new_branch()


# -- transport errors ---------------------------------------------------------------------


def test_transport_error_by_address_ends_every_transaction_there() -> None:
    layer = new_layer()
    other = Peer("udp", "198.51.100.7", 5060)
    keys = [
        layer.start_client(make_request(method), SERVER, 0.0) for method in ("INVITE", "OPTIONS")
    ]
    kept = layer.start_client(make_request("OPTIONS"), other, 0.0)
    layer.receive(make_request("MESSAGE"), SERVER, 0.0)  # a server transaction with that peer
    [server_key] = received_keys(layer)
    layer.transport_error(SERVER, now=1.0)
    assert drain_events(layer) == [
        TransportErrorOccurred(keys[0]),
        TransactionTerminated(keys[0]),
        TransportErrorOccurred(keys[1]),
        TransactionTerminated(keys[1]),
        TransportErrorOccurred(server_key),
        TransactionTerminated(server_key),
    ]
    assert len(layer) == 1
    assert kept in layer


def test_transport_error_on_a_connection_spares_other_connections() -> None:
    layer = new_layer()
    on_first = Peer("tcp", CLIENT_HOST, 40000, 1)
    on_second = Peer("tcp", CLIENT_HOST, 40000, 2)
    layer.receive(make_request(transport="TCP"), on_first, 0.0)
    layer.receive(make_request(transport="TCP"), on_second, 0.0)
    any_connection = layer.start_client(
        make_request("OPTIONS", transport="TCP"), Peer("tcp", CLIENT_HOST, 40000), 0.0
    )
    first, second = received_keys(layer)
    layer.transport_error(on_first, now=1.0)
    assert drain_events(layer) == [
        TransportErrorOccurred(first),
        TransactionTerminated(first),
        TransportErrorOccurred(any_connection),
        TransactionTerminated(any_connection),
    ]
    assert second in layer


def test_transport_error_for_unknown_targets_is_ignored() -> None:
    layer = new_layer()
    layer.transport_error(SERVER)
    layer.transport_error(key=ClientKey("z9hG4bKgone", "INVITE"))
    layer.transport_error(key=ServerKey("z9hG4bKgone", "h", "INVITE"))
    assert drain_events(layer) == []


def test_transport_error_needs_a_target() -> None:
    with pytest.raises(TransactionError, match=exact("transport_error needs a peer or a key")):
        new_layer().transport_error()


# -- timers and emptiness -----------------------------------------------------------------


def test_dead_timer_entries_stay_bounded() -> None:
    layer = new_layer()
    count = 3000
    for number in range(count):
        request = make_request("OPTIONS", call_id=f"{number}@load")
        key = layer.start_client(request, SERVER, 0.0)
        layer.receive(make_response(request, 200, to_tag="t"), SERVER, 0.0)  # E and F die
        assert key in layer
    heap_size = len(layer._core.heap)  # noqa: SLF001 - white-box check of the heap bound
    assert heap_size <= 2 * count + 1100
    run_timers(layer, 5.0)
    assert len(layer) == 0
    assert layer.next_timer() is None
    assert layer._core.heap == []  # noqa: SLF001


def _parsed_vias(message: Request | Response) -> object:
    return message._parsed.vias  # noqa: SLF001 - white-box check of what a message keeps


def test_lingering_server_transaction_keeps_lines_not_parsed_values() -> None:
    layer = new_layer()
    request = make_request("REGISTER")
    request.vias()  # parsed, as the TU does
    layer.receive(request, CLIENT, 0.0)
    [key] = received_keys(layer)
    response = make_response(request, 200, to_tag="t")
    response.vias()
    layer.send_response(key, response, 0.1)
    [sent] = layer.messages_to_send()
    assert _parsed_vias(layer.server_request(key)) is None  # Completed: Timer J runs
    assert layer.server_request(key) == request
    layer.receive(request, CLIENT, 0.5)  # a retransmission gets the same response again
    [again] = layer.messages_to_send()
    assert bytes(again.message) == bytes(sent.message)
    assert again.message.vias() == response.vias()  # parsed again when asked for


def test_lingering_client_transaction_keeps_lines_not_parsed_values() -> None:
    layer = new_layer()
    request = make_request("OPTIONS")
    request.vias()
    key = layer.start_client(request, SERVER, 0.0)
    layer.receive(make_response(request, 200, to_tag="t"), SERVER, 0.1)  # Completed: Timer K
    assert _parsed_vias(layer.client_request(key)) is None
    assert layer.client_request(key) == request


def keep_invite_2xx(number: int, direction: str, message: Request | Response) -> bool:
    """Lose every fifth message, except 2xx to INVITE: retransmitting those is the TU's job
    (§13.3.1.4), and this test has no TU."""
    if isinstance(message, Response) and message.is_success and message.cseq().method == "INVITE":
        return False
    return number % 5 == 2


def test_layer_empties_after_mixed_traffic_with_loss() -> None:
    pair = TransactionPair(drop=keep_invite_2xx)
    script = {  # Call-ID -> (method, what the server TU answers)
        "0@mixed": ("INVITE", [180, 200]),
        "1@mixed": ("INVITE", [486]),
        "2@mixed": ("INVITE", [183, 603]),
        "3@mixed": ("OPTIONS", [200]),
        "4@mixed": ("BYE", [481]),
        "5@mixed": ("REGISTER", [100, 401]),
        "6@mixed": ("PUBLISH", [100, 200]),
    }
    for call_id, (method, _) in script.items():
        pair.start(make_request(method, call_id=call_id))
    answered: set[ServerKey] = set()
    for _ in range(100):
        for event in list(pair.server_events):
            if isinstance(event, RequestReceived) and event.key not in answered:
                answered.add(event.key)
                for status in script[event.request.call_id][1]:
                    pair.answer(event.key, status)
        pair.advance(0.3)
    assert len(answered) == len(script)
    pair.advance(64 * 0.5 + 5.0)
    assert len(pair.client) == 0
    assert len(pair.server) == 0
    assert pair.client.next_timer() is None
    assert pair.server.next_timer() is None
    assert any(entry.endswith("dropped") for entry in pair.log)


# -- exports ------------------------------------------------------------------------------


def test_all_is_sorted_and_complete() -> None:
    exported = voip_core.transaction.__all__
    assert exported == sorted(exported)
    public = {
        name
        for name, value in vars(voip_core.transaction).items()
        if not name.startswith("_") and not isinstance(value, type(voip_core.transaction))
    }
    assert public == set(exported)


def test_outbound_messages_name_their_transaction() -> None:
    layer = new_layer()
    invite = make_request()
    client_key = layer.start_client(invite, SERVER, 0.0)
    layer.receive(make_response(invite, 404, to_tag="t"), SERVER, 0.1)  # ACK goes out
    layer.receive(make_request("OPTIONS"), CLIENT, 0.2)
    [server_key] = received_keys(layer)
    layer.send_response(server_key, make_response(layer.server_request(server_key), 200), 0.3)
    layer.send_stateless(make_request("ACK", to_tag="t"), SERVER)
    routed = [(label(o.message), o.destination, o.key) for o in layer.messages_to_send()]
    assert routed == [
        ("INVITE", SERVER, client_key),
        ("ACK", SERVER, client_key),
        ("200", CLIENT, server_key),
        ("ACK", SERVER, None),
    ]

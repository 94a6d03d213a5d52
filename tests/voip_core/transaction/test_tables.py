"""Properties of the four state tables and of the layer under arbitrary interleavings.

Covered:
- Every (state, input) pair of every machine, in every state the machine can reach and in
  every other state: the input either moves the transaction to a state of that machine
  (the one the table names, or Terminated when a zero-length timer follows) or raises
  TransactionError and changes nothing. Checked exhaustively rather than sampled: the
  space is 4 machines x 7 states x 19 inputs.
- Inputs that come from the network (responses for clients, request retransmissions and
  ACKs for servers, transport errors) have an entry in every live state, so only TU calls
  can raise.
- Hypothesis state machine: random interleavings of TU calls (start, answer, cancel),
  network fates (deliver, drop, duplicate, reorder), timers and transport errors. Network
  input and timers never raise; TU calls raise nothing but TransactionError, and only for
  pairs the table lacks; every transaction gets exactly one TransactionTerminated; and
  once the network stops losing messages and both TUs answer what is pending (the client
  TU cancelling INVITEs as Timer C would), both layers are empty with no timer left after
  2*64*T1 + T4. The factor 2 covers a request still in Timer A back-off (up to 64*T1/2
  late) whose transaction then waits the longest wait timer (64*T1).

Left out:
- Message contents under interleavings (covered by the per-machine modules).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.transaction import (
    ClientKey,
    Event,
    RequestReceived,
    ServerKey,
    TimerConfig,
    TransactionError,
    TransactionInput,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    invite_client,
    invite_server,
    non_invite_client,
    non_invite_server,
)
from voip_core.transaction._core import Table, Transaction

from .harness import CLIENT_HOST, SERVER_HOST, make_request

CLIENT = Peer("udp", CLIENT_HOST, 5060)
SERVER = Peer("udp", SERVER_HOST, 5060)
T1 = TimerConfig().t1
T4 = TimerConfig().t4

# -- exhaustive table checks --------------------------------------------------------------


def _client(method: str, *responses: int) -> tuple[TransactionLayer, Transaction]:
    layer = TransactionLayer(TimerConfig())
    key = layer.start_client(make_request(method), SERVER, 0.0)
    for status in responses:
        layer.receive(make_response(layer.client_request(key), status, to_tag="t"), SERVER, 0.1)
    return layer, layer._core.clients[key]  # noqa: SLF001 - white-box access to the record


def _server(
    method: str, *responses: int, ack: bool = False
) -> tuple[TransactionLayer, Transaction]:
    layer = TransactionLayer(TimerConfig())
    request = make_request(method, branch="z9hG4bKtable")
    layer.receive(request, CLIENT, 0.0)
    event = layer.next_event()
    assert isinstance(event, RequestReceived)
    for status in responses:
        layer.send_response(event.key, make_response(request, status, to_tag="t"), 0.1)
    if ack:
        layer.receive(make_request("ACK", branch="z9hG4bKtable", to_tag="t"), CLIENT, 0.2)
    return layer, layer._core.servers[event.key]  # noqa: SLF001


_S = TransactionState
_I = TransactionInput
# How to reach each live state of each machine through real inputs.
REACH: dict[str, dict[TransactionState, Callable[[], tuple[TransactionLayer, Transaction]]]] = {
    "invite_client": {
        _S.CALLING: lambda: _client("INVITE"),
        _S.PROCEEDING: lambda: _client("INVITE", 180),
        _S.COMPLETED: lambda: _client("INVITE", 486),
        _S.ACCEPTED: lambda: _client("INVITE", 200),
    },
    "non_invite_client": {
        _S.TRYING: lambda: _client("OPTIONS"),
        _S.PROCEEDING: lambda: _client("OPTIONS", 100),
        _S.COMPLETED: lambda: _client("OPTIONS", 200),
    },
    "invite_server": {
        _S.PROCEEDING: lambda: _server("INVITE"),
        _S.COMPLETED: lambda: _server("INVITE", 486),
        _S.CONFIRMED: lambda: _server("INVITE", 486, ack=True),
        _S.ACCEPTED: lambda: _server("INVITE", 200),
    },
    "non_invite_server": {
        _S.TRYING: lambda: _server("OPTIONS"),
        _S.PROCEEDING: lambda: _server("OPTIONS", 100),
        _S.COMPLETED: lambda: _server("OPTIONS", 200),
    },
}
MACHINES = {
    "invite_client": (invite_client.TABLE, invite_client.STATES),
    "non_invite_client": (non_invite_client.TABLE, non_invite_client.STATES),
    "invite_server": (invite_server.TABLE, invite_server.STATES),
    "non_invite_server": (non_invite_server.TABLE, non_invite_server.STATES),
}
NETWORK_INPUTS = {
    "invite_client": {_I.PROVISIONAL, _I.FINAL_2XX, _I.FINAL_NON_2XX, _I.TRANSPORT_ERROR},
    "non_invite_client": {_I.PROVISIONAL, _I.FINAL_2XX, _I.FINAL_NON_2XX, _I.TRANSPORT_ERROR},
    "invite_server": {_I.REQUEST_RETRANSMISSION, _I.ACK, _I.TRANSPORT_ERROR},
    "non_invite_server": {_I.REQUEST_RETRANSMISSION, _I.TRANSPORT_ERROR},
}
_RESPONSE_STATUS = {
    _I.PROVISIONAL: 180,
    _I.FINAL_2XX: 200,
    _I.FINAL_NON_2XX: 486,
    _I.FINAL_STATELESS: 401,
}


def _input_message(transaction: Transaction, event: TransactionInput) -> Request | Response | None:
    request = transaction.request
    if event in _RESPONSE_STATUS:
        return make_response(request, _RESPONSE_STATUS[event], to_tag="t")
    if event is _I.REQUEST_RETRANSMISSION:
        return request
    if event is _I.ACK:
        return make_request("ACK", branch=request.top_via().branch or "", to_tag="t")
    if event is _I.CANCEL:
        return invite_client.build_cancel(request)
    return None


def _pairs() -> list[tuple[str, TransactionState, TransactionInput]]:
    return [
        (machine, state, event)
        for machine in MACHINES
        for state in TransactionState
        for event in TransactionInput
    ]


@pytest.mark.parametrize(("machine", "state", "event"), _pairs())
def test_every_state_input_pair_transitions_or_raises(
    machine: str, state: TransactionState, event: TransactionInput
) -> None:
    table, states = MACHINES[machine]
    reach = REACH[machine]
    if state in reach:
        layer, transaction = reach[state]()
    else:  # a state this machine never reaches through its own inputs
        layer, transaction = next(iter(reach.values()))()
        transaction.state = state
    assert transaction.state is state
    before = len(layer)
    # the union of the four tables' types is not a Table[Transaction]; each holds its own kind
    handle_table: Table[Transaction] = table  # type: ignore[assignment]
    if (state, event) not in handle_table:
        with pytest.raises(
            TransactionError, match=f"has no transition for {event.name} in {state.name}$"
        ):
            transaction.handle(layer._core, event, _input_message(transaction, event), 1.0)  # noqa: SLF001
        assert transaction.state is state
        assert len(layer) == before
        return
    transaction.handle(layer._core, event, _input_message(transaction, event), 1.0)  # noqa: SLF001
    expected = handle_table[state, event][1]
    assert transaction.state in states
    assert transaction.state in (expected, _S.TERMINATED)
    if transaction.state is _S.TERMINATED:
        assert transaction.key not in layer
        assert len(layer) == before - 1
    else:
        assert transaction.key in layer


@pytest.mark.parametrize("machine", MACHINES)
def test_tables_only_name_states_of_their_machine(machine: str) -> None:
    table, states = MACHINES[machine]
    assert set(REACH[machine]) == states - {_S.TERMINATED}
    for (state, _), (_, next_state) in table.items():
        assert state in states - {_S.TERMINATED}
        assert next_state in states


@pytest.mark.parametrize("machine", MACHINES)
def test_network_inputs_never_raise_in_live_states(machine: str) -> None:
    table, states = MACHINES[machine]
    for state in states - {_S.TERMINATED}:
        for event in NETWORK_INPUTS[machine]:
            assert (state, event) in table, (state, event)


def test_terminated_transaction_accepts_nothing() -> None:
    layer, transaction = _client("OPTIONS", 200)
    layer.handle_timer(100.0)
    assert transaction.state is _S.TERMINATED
    with pytest.raises(TransactionError, match="has no transition for TIMER_K in TERMINATED$"):
        transaction.handle(layer._core, _I.TIMER_K, None, 101.0)  # noqa: SLF001


# -- random interleavings -----------------------------------------------------------------

STATUSES = st.sampled_from([100, 180, 183, 200, 202, 404, 486, 487, 503, 603])
DRAIN_HORIZON = 2 * 64 * T1 + T4


class TransactionInterleavings(RuleBasedStateMachine):
    """A client layer and a server layer over a network that loses, reorders and duplicates."""

    def __init__(self) -> None:
        super().__init__()
        self.client = TransactionLayer(TimerConfig())
        self.server = TransactionLayer(TimerConfig())
        self.now = 0.0
        #: (receiving side, message, source peer) still in flight.
        self.network: list[tuple[str, Request | Response, Peer]] = []
        self.client_live: set[ClientKey] = set()
        self.server_live: set[ServerKey] = set()
        self.client_keys: list[ClientKey] = []
        self.server_keys: list[ServerKey] = []
        self.started = 0

    # -- bookkeeping ----------------------------------------------------------------------

    def collect(self) -> None:
        for outbound in self.client.messages_to_send():
            source = Peer(outbound.destination.transport, CLIENT_HOST, 5060)
            self.network.append(("server", outbound.message, source))
        for outbound in self.server.messages_to_send():
            source = Peer(outbound.destination.transport, SERVER_HOST, 5060)
            self.network.append(("client", outbound.message, source))
        while (event := self.client.next_event()) is not None:
            self.track(event, self.client_live)
        while (event := self.server.next_event()) is not None:
            if isinstance(event, RequestReceived):
                assert event.key not in self.server_live
                self.server_live.add(event.key)
                self.server_keys.append(event.key)
            self.track(event, self.server_live)

    @staticmethod
    def track(event: Event, live: set[ClientKey] | set[ServerKey]) -> None:
        if isinstance(event, TransactionTerminated):
            assert event.key in live  # exactly one TransactionTerminated per transaction
            live.discard(event.key)

    def fire_timers(self, until: float) -> None:
        while True:
            deadlines = [
                d for d in (self.client.next_timer(), self.server.next_timer()) if d is not None
            ]
            if not deadlines or min(deadlines) > until:
                break
            self.now = max(self.now, min(deadlines))
            self.client.handle_timer(self.now)
            self.server.handle_timer(self.now)
            self.collect()
        self.now = until

    def deliver(self, index: int) -> None:
        side, message, source = self.network.pop(index)
        (self.client if side == "client" else self.server).receive(message, source, self.now)
        self.collect()

    def answer(self, key: ServerKey, status: int) -> None:
        """The server TU sends ``status``; TransactionError only where the table has no entry."""
        if key not in self.server:
            with pytest.raises(TransactionError):
                self.server.send_response(key, make_response(make_request(), status), self.now)
            return
        request = self.server.server_request(key)
        state = self.server.server_state(key)
        table = invite_server.TABLE if key.method == "INVITE" else non_invite_server.TABLE
        event = (
            _I.PROVISIONAL if status < 200 else _I.FINAL_2XX if status < 300 else _I.FINAL_NON_2XX
        )
        response = make_response(request, status, to_tag="uas")
        if (state, event) in table:
            self.server.send_response(key, response, self.now)
        else:
            with pytest.raises(TransactionError):
                self.server.send_response(key, response, self.now)
        self.collect()

    # -- rules ----------------------------------------------------------------------------

    @precondition(lambda self: self.started < 5)
    @rule(
        method=st.sampled_from(["INVITE", "INVITE", "OPTIONS", "BYE"]),
        transport=st.sampled_from(["udp", "tcp"]),
    )
    def start(self, method: str, transport: str) -> None:
        self.started += 1
        request = make_request(method, transport=transport.upper(), call_id=f"{self.started}@fuzz")
        key = self.client.start_client(request, Peer(transport, SERVER_HOST, 5060), self.now)
        self.client_live.add(key)
        self.client_keys.append(key)
        self.collect()

    @precondition(lambda self: self.network)
    @rule(data=st.data(), fate=st.sampled_from(["deliver", "deliver", "drop", "duplicate"]))
    def network_step(self, data: st.DataObject, fate: str) -> None:
        index = data.draw(st.integers(0, len(self.network) - 1), label="message")
        if fate == "drop":
            self.network.pop(index)
        elif fate == "duplicate":
            self.network.append(self.network[index])
            self.deliver(index)
        else:
            self.deliver(index)

    @rule(seconds=st.sampled_from([0.1, 0.5, 1.0, 4.0, 5.0, 32.0]) | st.floats(0.0, 40.0))
    def advance(self, seconds: float) -> None:
        self.fire_timers(self.now + seconds)

    @precondition(lambda self: self.server_keys)
    @rule(data=st.data(), status=STATUSES)
    def server_answers(self, data: st.DataObject, status: int) -> None:
        self.answer(data.draw(st.sampled_from(self.server_keys), label="server key"), status)

    @precondition(lambda self: self.client_keys)
    @rule(data=st.data())
    def client_cancels(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.client_keys), label="client key")
        if key.method != "INVITE":
            with pytest.raises(TransactionError):
                self.client.cancel_client(key, self.now)
            return
        cancel_key = self.client.cancel_client(key, self.now)
        if (
            cancel_key is not None
            and cancel_key in self.client
            and cancel_key not in self.client_live
        ):
            self.client_live.add(cancel_key)
            self.client_keys.append(cancel_key)
        self.collect()

    @rule(data=st.data(), side=st.sampled_from(["client", "server"]))
    def transport_fails(self, data: st.DataObject, side: str) -> None:
        transport = data.draw(st.sampled_from(["udp", "tcp"]), label="transport")
        if side == "client":
            self.client.transport_error(Peer(transport, SERVER_HOST, 5060), now=self.now)
        else:
            self.server.transport_error(Peer(transport, CLIENT_HOST, 5060), now=self.now)
        self.collect()

    @invariant()
    def every_transaction_is_accounted_for(self) -> None:
        # CANCEL transactions started inside the layer (a queued CANCEL meeting a 1xx)
        for key in self.client_keys:
            if key.method == "INVITE":
                cancel_key = ClientKey(key.branch, "CANCEL")
                if cancel_key in self.client and cancel_key not in self.client_live:
                    self.client_live.add(cancel_key)
                    self.client_keys.append(cancel_key)
        assert len(self.client) == len(self.client_live)
        assert len(self.server) == len(self.server_live)

    def teardown(self) -> None:
        """Stop losing messages, let both TUs answer, and wait for both layers to empty."""
        self.every_transaction_is_accounted_for()
        started = self.now
        for client_key in list(self.client_keys):  # Timer C: cancel what is still pending
            if client_key.method == "INVITE" and client_key in self.client:
                self.client.cancel_client(client_key, self.now)
        self.collect()
        while self.now < started + DRAIN_HORIZON:
            while self.network:
                self.deliver(0)
            for key in list(self.server_live):
                self.finish_server_transaction(key)
            self.every_transaction_is_accounted_for()
            self.fire_timers(self.now + T1 / 2)
        assert len(self.client) == 0
        assert len(self.server) == 0
        assert self.client.next_timer() is None
        assert self.server.next_timer() is None

    def finish_server_transaction(self, key: ServerKey) -> None:
        if key not in self.server:
            return
        state = self.server.server_state(key)
        if state not in (_S.TRYING, _S.PROCEEDING):
            return
        request = self.server.server_request(key)
        if key.method == "CANCEL":
            invite_key = self.server.find_invite_server(request)
            if invite_key is not None and self.server.server_state(invite_key) is _S.PROCEEDING:
                self.answer(invite_key, 487)
        self.answer(key, 487 if key.method == "INVITE" else 200)


TransactionInterleavings.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
test_transaction_interleavings = TransactionInterleavings.TestCase

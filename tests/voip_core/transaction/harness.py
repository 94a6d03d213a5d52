"""Two transaction layers joined by an in-memory network, with explicit time and loss.

Like h11's ``ConnectionPair`` (``h11/tests/helpers.py``) and aioquic's
``client_and_server`` (``tests/test_connection.py``): no sockets, no sleeps. Every message
crosses the "wire" as bytes and is parsed again, so what the layer builds (100 Trying,
ACK, CANCEL) must serialise and parse like a real message.

``log`` records each message as ``"C>S INVITE"`` / ``"S>C 100"``, with ``" dropped"``
appended for the ones lost; ``drop`` holds the 1-based wire numbers of messages to lose,
or is a predicate over (number, direction, message).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.parser import parse_message
from voip_core.sip.peer import Peer
from voip_core.transaction import (
    ClientKey,
    Event,
    RequestReceived,
    ServerKey,
    TimerConfig,
    TransactionLayer,
    new_branch,
)

CLIENT_HOST = "192.0.2.10"
SERVER_HOST = "192.0.2.20"

DropRule = Callable[[int, str, Request | Response], bool]


def label(message: Request | Response) -> str:
    """``INVITE`` for a request, ``180`` for a response."""
    return message.method if isinstance(message, Request) else str(message.status_code)


def make_request(
    method: str = "INVITE",
    *,
    branch: str | None = None,
    transport: str = "UDP",
    cseq: int = 1,
    cseq_method: str | None = None,
    call_id: str = "a84b4c76e66710@pc33.example.com",
    to_tag: str | None = None,
    uri: str = "sip:bob@example.com",
    routes: Iterable[str] = (),
    via_host: str = CLIENT_HOST,
    extra: Iterable[str] = (),
) -> Request:
    """A parsed request; ``branch=""`` leaves the branch out (RFC 2543 style)."""
    if branch is None:
        branch = new_branch()
    branch_param = f";branch={branch}" if branch else ""
    to = "Bob <sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {via_host}:5060{branch_param}",
        "Max-Forwards: 70",
        *(f"Route: {route}" for route in routes),
        f"To: {to}",
        "From: Alice <sip:alice@example.com>;tag=1928301774",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Require: 100rel",
        "Contact: <sip:alice@192.0.2.10>",
        *extra,
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, Request)
    return message


def wire(message: Request | Response) -> Request | Response:
    """Serialise and parse again, as a real network hop would."""
    return parse_message(bytes(message))


def drain_events(layer: TransactionLayer) -> list[Event]:
    """Every pending event of ``layer``."""
    events: list[Event] = []
    while (event := layer.next_event()) is not None:
        events.append(event)
    return events


class TransactionPair:
    """A client layer and a server layer connected back to back."""

    def __init__(
        self,
        *,
        transport: str = "udp",
        config: TimerConfig | None = None,
        send_trying: bool = True,
        drop: Iterable[int] | DropRule = (),
    ) -> None:
        config = config or TimerConfig()
        self.client = TransactionLayer(config)
        self.server = TransactionLayer(config, send_trying=send_trying)
        self.now = 0.0
        self.transport = transport
        #: How the server sees the client, and where the client sends.
        self.client_peer = Peer(transport, CLIENT_HOST, 5060, 1 if transport != "udp" else None)
        self.server_peer = Peer(transport, SERVER_HOST, 5060, 2 if transport != "udp" else None)
        if callable(drop):
            self._drop: DropRule = drop
        else:
            lost = frozenset(drop)
            self._drop = lambda number, direction, message: number in lost
        self.log: list[str] = []
        self.times: list[float] = []
        self.client_events: list[Event] = []
        self.server_events: list[Event] = []

    # -- driving ------------------------------------------------------------------------

    def start(self, request: Request) -> ClientKey:
        """The client TU sends ``request``."""
        key = self.client.start_client(request, self.server_peer, self.now)
        self.flush()
        return key

    def answer(self, key: ServerKey, status_code: int, *, to_tag: str | None = "srv1") -> Response:
        """The server TU answers server transaction ``key``."""
        response = make_response(self.server.server_request(key), status_code, to_tag=to_tag)
        self.server.send_response(key, response, self.now)
        self.flush()
        return response

    def flush(self) -> None:
        """Deliver queued messages both ways until the network is quiet."""
        while True:
            moved = False
            for outbound in self.client.messages_to_send():
                moved = True
                if self._transmit("C>S", outbound.message):
                    self.server.receive(wire(outbound.message), self.client_peer, self.now)
            for outbound in self.server.messages_to_send():
                moved = True
                if self._transmit("S>C", outbound.message):
                    self.client.receive(wire(outbound.message), self.server_peer, self.now)
            self.client_events.extend(drain_events(self.client))
            self.server_events.extend(drain_events(self.server))
            if not moved:
                return

    def _transmit(self, direction: str, message: Request | Response) -> bool:
        number = len(self.log) + 1
        lost = self._drop(number, direction, message)
        self.log.append(f"{direction} {label(message)}" + (" dropped" if lost else ""))
        self.times.append(self.now)
        return not lost

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass, firing timers of both layers in deadline order."""
        target = self.now + seconds
        while True:
            deadlines = [
                d for d in (self.client.next_timer(), self.server.next_timer()) if d is not None
            ]
            if not deadlines or min(deadlines) > target:
                break
            self.now = max(self.now, min(deadlines))
            self.client.handle_timer(self.now)
            self.server.handle_timer(self.now)
            self.flush()
        self.now = target

    # -- inspection ---------------------------------------------------------------------

    def server_key(self) -> ServerKey:
        """Key of the only RequestReceived the server TU got so far."""
        keys = [event.key for event in self.server_events if isinstance(event, RequestReceived)]
        assert len(keys) == 1, keys
        return keys[0]

    def take_log(self) -> list[str]:
        """The wire log since the last call."""
        log, self.log = self.log, []
        self.times = []
        return log


def exact(message: str) -> str:
    """A ``pytest.raises(match=...)`` pattern for exactly ``message``."""
    return f"^{re.escape(message)}$"


def run_timers(layer: TransactionLayer, until: float) -> None:
    """Fire ``layer``'s timers one deadline at a time, as the adapter's call_at would."""
    while (deadline := layer.next_timer()) is not None and deadline <= until:
        layer.handle_timer(deadline)

"""The transaction layer: every client and server transaction of one SIP element.

Theory of operation
-------------------

:class:`TransactionLayer` is a sans-IO engine with the shape of aioquic's
``QuicConnection``. Its adapter feeds it what arrived (:meth:`~TransactionLayer.receive`),
what the TU wants sent (:meth:`~TransactionLayer.send_response`,
:meth:`~TransactionLayer.start_client`, :meth:`~TransactionLayer.cancel_client`), timer
expiry (:meth:`~TransactionLayer.handle_timer`) and transport failures
(:meth:`~TransactionLayer.transport_error`); after each call it drains
:meth:`~TransactionLayer.next_event` and :meth:`~TransactionLayer.messages_to_send` and
re-arms one ``loop.call_at`` with :meth:`~TransactionLayer.next_timer`. Time is always
passed in as monotonic seconds (``now``); the layer never reads a clock.

Matching follows §17.1.3 for responses and §17.2.3 for requests (see
:mod:`voip_core.transaction.keys`). The layer only routes: each transaction's behaviour is
the table in its machine module (``invite_client``, ``non_invite_client``,
``invite_server``, ``non_invite_server``).

Errors: a call that misuses the API (an unknown key, a response after the final one, a
request without a usable branch) raises :class:`TransactionError` and changes nothing.
Messages from the network never cause a TransactionError; a message whose Via or CSeq
cannot be parsed raises the :class:`~voip_core.sip.exceptions.ParseError` of the accessor
before anything changes, and the adapter drops or answers it like any parse failure.
"""

from __future__ import annotations

from collections.abc import Iterable

from voip_core.sip.exceptions import ParseError, TransactionError
from voip_core.sip.message import Request, Response
from voip_core.sip.peer import Peer
from voip_core.sip.via import MAGIC_COOKIE
from voip_core.transaction import invite_client, invite_server, non_invite_client, non_invite_server
from voip_core.transaction._core import (
    ClientTransaction,
    Core,
    ServerTransaction,
    Transaction,
    peer_index_key,
)
from voip_core.transaction.events import (
    AckReceived,
    Event,
    Outbound,
    RequestReceived,
    StrayResponse,
)
from voip_core.transaction.keys import ClientKey, ServerKey, server_key
from voip_core.transaction.states import TransactionInput, TransactionState
from voip_core.transaction.timers import TimerConfig

__all__ = ["TransactionLayer"]

_PROVISIONAL = TransactionInput.PROVISIONAL
_FINAL_2XX = TransactionInput.FINAL_2XX
_FINAL_NON_2XX = TransactionInput.FINAL_NON_2XX
_FINAL_STATELESS = TransactionInput.FINAL_STATELESS
_ACK = TransactionInput.ACK
_REQUEST_RETRANSMISSION = TransactionInput.REQUEST_RETRANSMISSION


def _response_input(status_code: int) -> TransactionInput:
    if status_code < 200:
        return _PROVISIONAL
    if status_code < 300:
        return _FINAL_2XX
    return _FINAL_NON_2XX


class TransactionLayer:
    """All client and server transactions of one process (RFC 3261 §17, RFC 6026).

    ``send_trying`` makes every new INVITE server transaction answer 100 Trying at once
    (§17.2.1; a proxy always should, §16.2). Turn it off only for a TU that always answers
    within 200 ms, as the proxy does: it sends 100 Trying itself when it forwards, and
    nothing but the challenge to an unauthenticated INVITE.
    """

    __slots__ = ("_core", "_send_trying")

    def __init__(self, config: TimerConfig, *, send_trying: bool = True) -> None:
        self._core = Core(config)
        self._send_trying = send_trying

    @property
    def sends_trying(self) -> bool:
        """Whether new INVITE server transactions answer 100 Trying by themselves."""
        return self._send_trying

    @property
    def config(self) -> TimerConfig:
        """The timer configuration."""
        return self._core.config

    # -- inputs -----------------------------------------------------------------------

    def receive(self, message: Request | Response, source: Peer, now: float) -> None:
        """Handle a message that arrived from ``source``.

        A request that matches a server transaction is a retransmission (or its ACK) and
        is absorbed; a new one creates a server transaction and emits
        :class:`RequestReceived` (an ACK never does: an ACK matching nothing, or an INVITE
        transaction in Accepted, is emitted as :class:`AckReceived`). A response goes to
        its client transaction, or out as :class:`StrayResponse`.
        """
        self._core.source = source
        if isinstance(message, Response):
            self._receive_response(message, source, now)
        else:
            self._receive_request(message, source, now)

    def _receive_request(self, request: Request, source: Peer, now: float) -> None:
        core = self._core
        method = request.method
        is_ack = method == "ACK"
        # §17.2.3: an ACK matches the INVITE transaction it acknowledges
        key = server_key(request, request.top_via(), "INVITE" if is_ack else method)
        transaction = core.servers.get(key)
        if transaction is not None:
            transaction.handle(core, _ACK if is_ack else _REQUEST_RETRANSMISSION, request, now)
        elif is_ack:
            core.emit(AckReceived(request, source))  # the ACK for a 2xx is its own transaction
        else:
            if method == "INVITE":
                invite_server.start(core, key, request, source, self._send_trying)
            else:
                non_invite_server.start(core, key, request, source)
            core.emit(RequestReceived(key, request, source))

    def _receive_response(self, response: Response, source: Peer, now: float) -> None:
        core = self._core
        branch = response.top_via().branch
        transaction = (
            None if branch is None else core.clients.get(ClientKey(branch, response.cseq().method))
        )
        if transaction is None:
            core.emit(StrayResponse(response, source))
        else:
            transaction.handle(core, _response_input(response.status_code), response, now)

    def send_response(
        self, key: ServerKey, response: Response, now: float, *, stateless: bool = False
    ) -> None:
        """Send the TU's ``response`` through server transaction ``key``.

        With ``stateless``, a final response is sent once and the transaction ends at once
        (RFC 3261 §8.2.7 stateless UAS behaviour, meant for challenges, §16.6): a
        retransmitted request starts a new transaction, and for an INVITE nothing is
        retransmitted and its ACK matches nothing. Only before any other final response.

        It goes to the source of the request. Raises :class:`TransactionError` for an
        unknown key or a response the state does not allow (anything after a non-2xx
        final, anything but another 2xx after a 2xx to INVITE, anything after a
        non-INVITE final). RFC 3261 §17.2.2 says a second final response in Completed is
        silently discarded; we raise instead, so that a TU bug shows. A 2xx the state does
        not take (a proxy forwarding a branch's 2xx after it sent a non-2xx, §16.7 step 5,
        or a 2xx after Timer L ended the transaction) goes out with :meth:`send_stateless`
        to :meth:`server_source`.
        """
        transaction = self._server(key)
        event = _response_input(response.status_code)
        if stateless:
            if event is _PROVISIONAL:
                raise TransactionError(
                    f"a stateless response must be final, not {response.status_code}"
                )
            event = _FINAL_STATELESS
        transaction.handle(self._core, event, response, now)

    def start_client(self, request: Request, destination: Peer, now: float) -> ClientKey:
        """Send ``request`` to ``destination`` in a new client transaction and return its key.

        The request must already carry the TU's top Via with a fresh RFC 3261 branch
        (:func:`~voip_core.transaction.new_branch`). INVITE starts in CALLING (Timer A on
        unreliable transports, Timer B), any other method in TRYING (Timer E on unreliable
        transports, Timer F). ACK is refused: the ACK for a 2xx is sent by the TU
        (:meth:`send_stateless`), and the one for a non-2xx by the transaction itself.
        """
        method = request.method
        if method == "ACK":
            raise TransactionError(
                "ACK has no client transaction (RFC 3261 §17.1.1.3); use send_stateless"
            )
        try:
            branch = request.top_via().branch
            cseq_method = request.cseq().method
        except ParseError as error:
            raise TransactionError(
                f"{method} cannot start a client transaction: {error}"
            ) from error
        if branch is None or not branch.startswith(MAGIC_COOKIE):
            raise TransactionError(
                f"top Via branch {branch!r} of {method} does not start with {MAGIC_COOKIE}"
            )
        if cseq_method != method:
            raise TransactionError(
                f"CSeq method {cseq_method} does not match request method {method}"
            )
        core = self._core
        key = ClientKey(branch, method)
        if key in core.clients:
            raise TransactionError(f"client transaction {branch} {method} already exists")
        if method == "INVITE":
            invite_client.start(core, key, request, destination, now)
        else:
            non_invite_client.start(core, key, request, destination, now)
        return key

    def cancel_request(self, key: ClientKey, headers: Iterable[tuple[str, str]] = ()) -> Request:
        """Build the CANCEL for INVITE client transaction ``key`` (§9.1) without sending it.

        A TU that sends it itself with :meth:`start_client` must respect §9.1 and wait for
        a provisional response; :meth:`cancel_client` does that for it.
        """
        return invite_client.build_cancel(self._invite_client(key).request, headers)

    def cancel_client(
        self, key: ClientKey, now: float, headers: Iterable[tuple[str, str]] = ()
    ) -> ClientKey | None:
        """Cancel INVITE client transaction ``key`` as soon as §9.1 allows.

        In Proceeding the CANCEL goes out at once; in Calling it is queued and sent with
        the first provisional response; after a final response, or when the transaction no
        longer exists, nothing is sent. Asking twice sends one CANCEL. Sending it arms the
        §9.1 guard: with no final response within 64*T1 the INVITE transaction reports
        :class:`TransactionTimeout` and ends.

        Returns the key of the CANCEL's own client transaction (whose response arrives as
        :class:`ResponseReceived`), or ``None`` when no CANCEL will be sent. ``headers``
        are added to the CANCEL, e.g. ``("Reason", 'SIP;cause=200;text="Call completed
        elsewhere"')`` (RFC 3326).
        """
        if key.method != "INVITE":
            raise TransactionError(
                f"CANCEL applies to INVITE client transactions (RFC 3261 §9.1), not {key.method}"
            )
        transaction = self._core.clients.get(key)
        if transaction is None:
            return None
        assert isinstance(transaction, invite_client.InviteClientTransaction)
        if transaction.cancel is None:
            cancel = invite_client.build_cancel(transaction.request, headers)
            transaction.handle(self._core, TransactionInput.CANCEL, cancel, now)
        return None if transaction.cancel is None else ClientKey(key.branch, "CANCEL")

    def send_stateless(self, message: Request | Response, destination: Peer) -> None:
        """Queue a message that belongs to no transaction: the TU's ACK for a 2xx
        (§13.2.2.4), a proxy forwarding such an ACK or a stray 2xx (§16.7, §16.11)."""
        self._core.send(message, destination)

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``."""
        self._core.fire_due(now)

    def transport_error(
        self, peer: Peer | None = None, key: ClientKey | ServerKey | None = None, now: float = 0.0
    ) -> None:
        """End the transactions a transport failure affects (§17.1.4, §17.2.4).

        With ``key``, that transaction; otherwise every transaction whose peer has the
        transport, host and port of ``peer`` and, when ``peer.connection_id`` is set, the
        same connection or none yet. Each gets :class:`TransportErrorOccurred` then
        :class:`TransactionTerminated`. Keys and peers without transactions are ignored,
        since the failure may be reported after the transaction ended. ``now`` is unused by
        the transitions and defaults to 0.
        """
        core = self._core
        targets: list[Transaction]
        if key is not None:
            found: Transaction | None = (
                core.clients.get(key) if isinstance(key, ClientKey) else core.servers.get(key)
            )
            targets = [] if found is None else [found]
        elif peer is not None:
            members: dict[Transaction, None] = core.by_peer.get(peer_index_key(peer), {})
            connection = peer.connection_id
            targets = [
                transaction
                for transaction in members
                if connection is None or transaction.peer.connection_id in (None, connection)
            ]
        else:
            raise TransactionError("transport_error needs a peer or a key")
        for transaction in targets:
            if transaction.state is not TransactionState.TERMINATED:
                transaction.handle(core, TransactionInput.TRANSPORT_ERROR, None, now)

    # -- outputs ----------------------------------------------------------------------

    def next_event(self) -> Event | None:
        """The oldest event not yet taken, or ``None``."""
        events = self._core.events
        return events.popleft() if events else None

    def messages_to_send(self) -> list[Outbound]:
        """Every message queued for the transport since the last call, in order."""
        core = self._core
        outbox = core.outbox
        core.outbox = []
        return outbox

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` must next be called, or ``None`` if no timer runs."""
        return self._core.next_deadline()

    # -- queries ----------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of live transactions, client and server."""
        core = self._core
        return len(core.clients) + core.server_count

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` names a live transaction."""
        core = self._core
        if isinstance(key, ClientKey):
            return key in core.clients
        if isinstance(key, ServerKey):
            transaction = core.servers.get(key)
            return transaction is not None and transaction.key == key
        return False

    def server_request(self, key: ServerKey) -> Request:
        """The request that created server transaction ``key``."""
        return self._server(key).request

    def server_source(self, key: ServerKey) -> Peer:
        """Where the request of server transaction ``key`` came from."""
        return self._server(key).peer

    def server_state(self, key: ServerKey) -> TransactionState:
        """The state of server transaction ``key``."""
        return self._server(key).state

    def client_request(self, key: ClientKey) -> Request:
        """The request client transaction ``key`` sends."""
        return self._client(key).request

    def client_state(self, key: ClientKey) -> TransactionState:
        """The state of client transaction ``key``."""
        return self._client(key).state

    def find_invite_server(self, cancel: Request) -> ServerKey | None:
        """The INVITE server transaction a CANCEL cancels (§9.2), or ``None``.

        The §17.2.3 matching rules apply with the method taken as INVITE: same branch and
        sent-by, or for RFC 2543 requests the same Request-URI, tags, Call-ID, CSeq number
        and top Via.
        """
        transaction = self._core.servers.get(server_key(cancel, cancel.top_via(), "INVITE"))
        if isinstance(transaction, invite_server.InviteServerTransaction):
            return transaction.key
        return None

    def _server(self, key: ServerKey) -> ServerTransaction:
        transaction = self._core.servers.get(key)
        if transaction is None or transaction.key != key:
            raise TransactionError(
                f"no server transaction {key.method} {key.branch!r} from {key.sent_by}"
            )
        return transaction

    def _client(self, key: ClientKey) -> ClientTransaction:
        transaction = self._core.clients.get(key)
        if transaction is None:
            raise TransactionError(f"no client transaction {key.method} {key.branch}")
        return transaction

    def _invite_client(self, key: ClientKey) -> invite_client.InviteClientTransaction:
        transaction = self._client(key)
        if not isinstance(transaction, invite_client.InviteClientTransaction):
            raise TransactionError(
                f"CANCEL applies to INVITE client transactions (RFC 3261 §9.1), not {key.method}"
            )
        return transaction

"""INVITE client transaction (RFC 3261 §17.1.1 as updated by RFC 6026 §8.4), with the hop-by-hop
ACK (§17.1.1.3) and the CANCEL it may send (§9.1).

Theory of operation: the INVITE goes out at once in CALLING. On unreliable transports
Timer A retransmits it at T1, 2*T1, 4*T1... without a cap; Timer B (64*T1) ends the
transaction if nothing at all was heard. A provisional response moves it to PROCEEDING,
where it waits for a final response without retransmitting and without a timeout of its
own (a proxy runs Timer C in the TU, §16.6).

A 300-699 final response is passed up, acknowledged by an ACK the transaction builds
itself (§17.1.1.3), and the transaction waits Timer D in COMPLETED to answer every
retransmission of that response with the same ACK. A 2xx is passed up and the
transaction waits Timer M in ACCEPTED, passing up every further 2xx (retransmissions and
other forks' answers) because the TU, not the transaction, acknowledges 2xx responses
(RFC 6026 §8.4).

CANCEL (the CANCEL input, from :meth:`TransactionLayer.cancel_client`): §9.1 forbids
sending it before a provisional response, so in CALLING it is queued and goes out with the
first 1xx; in PROCEEDING it goes out at once; after a final response it is dropped. The
CANCEL runs in its own non-INVITE client transaction. Sending it re-arms Timer B as the
§9.1 guard: "if no final response has been received after 64*T1 seconds, the client
SHOULD consider the original transaction cancelled and SHOULD destroy" it; Timer B in
PROCEEDING therefore reports a timeout and terminates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from voip_core.sip.grammar import split_header_list
from voip_core.sip.headers import Header, make_header
from voip_core.sip.message import Request, Response
from voip_core.sip.peer import Peer
from voip_core.transaction import non_invite_client
from voip_core.transaction._core import ClientTransaction, Core, Table, run_transition
from voip_core.transaction.events import (
    ResponseReceived,
    TransactionTimeout,
    TransportErrorOccurred,
)
from voip_core.transaction.keys import ClientKey
from voip_core.transaction.states import TransactionInput, TransactionState
from voip_core.transaction.timers import TransportTimers

__all__ = ["STATES", "TABLE", "InviteClientTransaction", "build_ack", "build_cancel", "start"]

_CALLING: Final = TransactionState.CALLING
_PROCEEDING: Final = TransactionState.PROCEEDING
_COMPLETED: Final = TransactionState.COMPLETED
_ACCEPTED: Final = TransactionState.ACCEPTED
_TERMINATED: Final = TransactionState.TERMINATED

#: RFC 3261 §8.1.1.6: the Max-Forwards a UAC puts on a request it originates; used when
#: the request being cancelled or acknowledged carries none.
_DEFAULT_MAX_FORWARDS: Final = make_header("Max-Forwards", "70")


class InviteClientTransaction(ClientTransaction):
    """A client transaction for an INVITE."""

    __slots__ = ("ack", "cancel", "cancel_sent")

    KIND = "INVITE client"

    def __init__(
        self,
        key: ClientKey,
        request: Request,
        peer: Peer,
        state: TransactionState,
        timers: TransportTimers,
    ) -> None:
        super().__init__(key, request, peer, state, timers)
        #: The ACK for the non-2xx final response, resent for each retransmission of it.
        self.ack: Request | None = None
        #: The CANCEL the TU asked for, queued or sent.
        self.cancel: Request | None = None
        self.cancel_sent = False

    def handle(
        self, core: Core, event: TransactionInput, message: Request | Response | None, now: float
    ) -> None:
        """Feed one input through :data:`TABLE`."""
        run_transition(core, self, TABLE, event, message, now)


def start(
    core: Core, key: ClientKey, request: Request, destination: Peer, now: float
) -> InviteClientTransaction:
    """Create the transaction in CALLING, send the INVITE and arm Timers A and B."""
    timers = core.timers_for(destination)
    transaction = InviteClientTransaction(key, request, destination, _CALLING, timers)
    core.add_client(transaction)
    core.transmit(transaction, request)
    if timers.a is not None:  # §17.1.1.2: Timer A only on unreliable transports
        core.arm_retransmit(transaction, TransactionInput.TIMER_A, timers.a, now)
    core.arm_timeout(transaction, TransactionInput.TIMER_B, timers.b, now)
    return transaction


# -- message construction -----------------------------------------------------------------


def _top_via_header(request: Request) -> Header:
    for header in request.headers:
        if header.key == "via":
            top = split_header_list(header.value)[0]
            return header if top == header.value else Header(header.key, header.name, top)
    raise AssertionError("a client transaction's request always has a Via")  # pragma: no cover


def _hop_by_hop_request(
    request: Request, method: str, to: Header | None, extra: Iterable[tuple[str, str]]
) -> Request:
    """A request for the same hop as ``request``: top Via, Route set, From, Call-ID, CSeq."""
    headers: list[Header] = [_top_via_header(request)]
    max_forwards = _DEFAULT_MAX_FORWARDS
    routes: list[Header] = []
    dialog: list[Header] = []
    for header in request.headers:
        key = header.key
        if key == "max-forwards":
            max_forwards = header
        elif key == "route":
            routes.append(header)
        elif key == "to":
            dialog.append(to if to is not None else header)
        elif key in ("from", "call-id"):
            dialog.append(header)
    headers.append(max_forwards)
    headers.extend(routes)
    headers.extend(dialog)
    headers.append(make_header("CSeq", f"{request.cseq().number} {method}"))
    headers.extend(make_header(name, value) for name, value in extra)
    return Request(method=method, uri=request.uri, headers=tuple(headers))


def build_ack(request: Request, response: Response) -> Request:
    """The ACK for a 300-699 response to ``request`` (RFC 3261 §17.1.1.3).

    Same Request-URI, Call-ID, From and CSeq number as the INVITE, To from the response
    (with its tag), only the INVITE's top Via, and the INVITE's Route headers.
    """
    to = next((header for header in response.headers if header.key == "to"), None)
    return _hop_by_hop_request(request, "ACK", to, ())


def build_cancel(request: Request, headers: Iterable[tuple[str, str]] = ()) -> Request:
    """The CANCEL for ``request`` (RFC 3261 §9.1).

    Same Request-URI, Call-ID, To, From and CSeq number, a single Via equal to the
    request's top Via (so it carries the same branch), the request's Route headers, and no
    Require or Proxy-Require. ``headers`` are appended, e.g. a ``Reason`` (RFC 3326).
    """
    return _hop_by_hop_request(request, "CANCEL", None, headers)


# -- actions ------------------------------------------------------------------------------


def _retransmit(
    core: Core, transaction: InviteClientTransaction, message: Request | Response | None, now: float
) -> None:
    # §17.1.1.2: Timer A doubles each time, with no cap; Timer B ends it
    core.transmit(transaction, transaction.request)
    core.arm_retransmit(transaction, TransactionInput.TIMER_A, 2 * transaction.interval, now)


def _time_out(
    core: Core, transaction: InviteClientTransaction, message: Request | Response | None, now: float
) -> None:
    core.emit(TransactionTimeout(transaction.key))


def _send_cancel(core: Core, transaction: InviteClientTransaction, now: float) -> None:
    cancel = transaction.cancel
    assert cancel is not None
    transaction.cancel_sent = True
    key = ClientKey(transaction.key.branch, "CANCEL")
    if key not in core.clients:  # the TU may have started it itself with start_client
        non_invite_client.start(core, key, cancel, transaction.peer, now)
    # §9.1: destroy the INVITE transaction if no final response comes within 64*T1
    core.arm_timeout(transaction, TransactionInput.TIMER_B, transaction.timers.b, now)


def _proceed(
    core: Core, transaction: InviteClientTransaction, message: Request | Response | None, now: float
) -> None:
    assert isinstance(message, Response)
    # §17.1.1.2: no more retransmissions in Proceeding, and Timer B only acts in Calling
    core.cancel_retransmit(transaction)
    core.cancel_timeout(transaction)
    core.emit(ResponseReceived(transaction.key, message))
    if transaction.cancel is not None:
        _send_cancel(core, transaction, now)


def _pass_up(
    core: Core, transaction: InviteClientTransaction, message: Request | Response | None, now: float
) -> None:
    assert isinstance(message, Response)
    core.emit(ResponseReceived(transaction.key, message))


def _accept(
    core: Core, transaction: InviteClientTransaction, message: Request | Response | None, now: float
) -> None:
    assert isinstance(message, Response)
    core.cancel_retransmit(transaction)
    core.cancel_timeout(transaction)
    if not transaction.cancel_sent:
        transaction.cancel = None  # §9.1: a queued CANCEL has nothing left to cancel
    core.emit(ResponseReceived(transaction.key, message))
    core.arm_wait(transaction, TransactionInput.TIMER_M, transaction.timers.m, now)


def _complete(
    core: Core, transaction: InviteClientTransaction, message: Request | Response | None, now: float
) -> None:
    assert isinstance(message, Response)
    core.cancel_retransmit(transaction)
    core.cancel_timeout(transaction)
    if not transaction.cancel_sent:
        transaction.cancel = None  # §9.1: a queued CANCEL has nothing left to cancel
    core.emit(ResponseReceived(transaction.key, message))
    ack = build_ack(transaction.request, message)
    transaction.ack = ack
    core.transmit(transaction, ack)
    core.arm_wait(transaction, TransactionInput.TIMER_D, transaction.timers.d, now)


def _resend_ack(
    core: Core, transaction: InviteClientTransaction, message: Request | Response | None, now: float
) -> None:
    # §17.1.1.2: each retransmission of the final response gets the ACK again, not the TU
    assert transaction.ack is not None
    core.transmit(transaction, transaction.ack)


def _queue_cancel(
    core: Core, transaction: InviteClientTransaction, message: Request | Response | None, now: float
) -> None:
    # §9.1: no CANCEL before a provisional response; _proceed sends it
    if transaction.cancel is None:
        assert isinstance(message, Request)
        transaction.cancel = message


def _cancel_now(
    core: Core, transaction: InviteClientTransaction, message: Request | Response | None, now: float
) -> None:
    if transaction.cancel is None:
        assert isinstance(message, Request)
        transaction.cancel = message
        _send_cancel(core, transaction, now)


def _transport_error(
    core: Core, transaction: InviteClientTransaction, message: Request | Response | None, now: float
) -> None:
    core.emit(TransportErrorOccurred(transaction.key))


_Input = TransactionInput

#: §17.1.1.2 / Figure 5 with RFC 6026 Figure 4. ``None`` actions absorb the input.
TABLE: Final[Table[InviteClientTransaction]] = {
    (_CALLING, _Input.TIMER_A): (_retransmit, _CALLING),
    (_CALLING, _Input.TIMER_B): (_time_out, _TERMINATED),
    (_CALLING, _Input.PROVISIONAL): (_proceed, _PROCEEDING),
    (_CALLING, _Input.FINAL_2XX): (_accept, _ACCEPTED),
    (_CALLING, _Input.FINAL_NON_2XX): (_complete, _COMPLETED),
    (_CALLING, _Input.CANCEL): (_queue_cancel, _CALLING),
    (_CALLING, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
    (_PROCEEDING, _Input.PROVISIONAL): (_pass_up, _PROCEEDING),
    (_PROCEEDING, _Input.FINAL_2XX): (_accept, _ACCEPTED),
    (_PROCEEDING, _Input.FINAL_NON_2XX): (_complete, _COMPLETED),
    (_PROCEEDING, _Input.CANCEL): (_cancel_now, _PROCEEDING),
    (_PROCEEDING, _Input.TIMER_B): (_time_out, _TERMINATED),  # the §9.1 guard
    (_PROCEEDING, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
    # §17.1.1.2: a late 1xx is absorbed; so is a 2xx, which cannot follow a non-2xx from
    # one server transaction (a forking proxy sends its non-2xx after all branches ended)
    (_COMPLETED, _Input.PROVISIONAL): (None, _COMPLETED),
    (_COMPLETED, _Input.FINAL_2XX): (None, _COMPLETED),
    (_COMPLETED, _Input.FINAL_NON_2XX): (_resend_ack, _COMPLETED),
    (_COMPLETED, _Input.CANCEL): (None, _COMPLETED),  # §9.1: nothing to cancel
    (_COMPLETED, _Input.TIMER_D): (None, _TERMINATED),
    (_COMPLETED, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
    # RFC 6026 §8.4: every 2xx goes up to the TU, which ACKs it; other responses are absorbed
    (_ACCEPTED, _Input.PROVISIONAL): (None, _ACCEPTED),
    (_ACCEPTED, _Input.FINAL_2XX): (_pass_up, _ACCEPTED),
    (_ACCEPTED, _Input.FINAL_NON_2XX): (None, _ACCEPTED),
    (_ACCEPTED, _Input.CANCEL): (None, _ACCEPTED),
    (_ACCEPTED, _Input.TIMER_M): (None, _TERMINATED),
    (_ACCEPTED, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
}

#: States this machine can be in.
STATES: Final = frozenset({_CALLING, _PROCEEDING, _COMPLETED, _ACCEPTED, _TERMINATED})

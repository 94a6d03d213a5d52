"""INVITE server transaction (RFC 3261 §17.2.1 as updated by RFC 6026 §7.1, §8.5-§8.7).

Theory of operation: the transaction starts in PROCEEDING and, unless the layer was told
the TU answers quickly, sends 100 Trying at once (§17.2.1; a proxy always should, §16.2).
Every retransmission of the INVITE is answered with the last response sent, and the TU
never sees it.

A final response the TU sends statelessly (a challenge, §8.2.7) goes out once and ends
the transaction at once: nothing is retransmitted, a retransmitted INVITE is a new
request, and the ACK matches nothing and goes to the TU as :class:`AckReceived`. The TU
must then not have sent 100 Trying either (build the layer with ``send_trying=False``
and send it when the request is forwarded): an unauthenticated request draws one answer.

A 300-699 from the TU moves it to COMPLETED: on unreliable transports Timer G retransmits
the response, doubling from T1 up to T2, until the ACK arrives; Timer H (64*T1) gives up
and reports a timeout. The ACK moves it to CONFIRMED, where Timer I (T4 on UDP, zero on
reliable transports) absorbs ACK retransmissions.

A 2xx from the TU moves it to ACCEPTED (RFC 6026 §7.1): the transaction does not
retransmit the 2xx itself (the TU does, §13.3.1.4), but forwards every further 2xx the TU
hands it (its retransmissions, or a proxy's 2xx from other branches). INVITE
retransmissions are absorbed, an ACK that matches is passed to the TU as
:class:`AckReceived`, and Timer L (64*T1) ends the transaction.
"""

from __future__ import annotations

from typing import Final

from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.transaction._core import Core, ServerTransaction, Table, run_transition
from voip_core.transaction.events import AckReceived, TransactionTimeout, TransportErrorOccurred
from voip_core.transaction.keys import ServerKey, legacy_token
from voip_core.transaction.states import TransactionInput, TransactionState

__all__ = ["STATES", "TABLE", "InviteServerTransaction", "start"]

_PROCEEDING: Final = TransactionState.PROCEEDING
_COMPLETED: Final = TransactionState.COMPLETED
_CONFIRMED: Final = TransactionState.CONFIRMED
_ACCEPTED: Final = TransactionState.ACCEPTED
_TERMINATED: Final = TransactionState.TERMINATED


class InviteServerTransaction(ServerTransaction):
    """A server transaction for an INVITE."""

    __slots__ = ()

    KIND = "INVITE server"

    def handle(
        self, core: Core, event: TransactionInput, message: Request | Response | None, now: float
    ) -> None:
        """Feed one input through :data:`TABLE`."""
        run_transition(core, self, TABLE, event, message, now)


def start(
    core: Core, key: ServerKey, request: Request, source: Peer, send_trying: bool
) -> InviteServerTransaction:
    """Create the transaction in PROCEEDING and send 100 Trying when ``send_trying``."""
    transaction = InviteServerTransaction(
        key, request, source, _PROCEEDING, core.timers_for(source)
    )
    core.add_server(transaction)
    if send_trying:
        trying = make_response(request, 100)
        transaction.last_response = trying
        core.transmit(transaction, trying)
    return transaction


# -- actions ------------------------------------------------------------------------------


def _send(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None
) -> Response:
    assert isinstance(message, Response)
    transaction.last_response = message
    core.transmit(transaction, message)
    return message


def _register_ack_alias(
    core: Core, transaction: InviteServerTransaction, response: Response
) -> None:
    # §17.2.3: an RFC 2543 ACK carries the To tag of our final response, not the INVITE's
    if transaction.key.is_legacy:
        request = transaction.request
        token = legacy_token(request, request.top_via(), response.to().tag)
        core.add_server_alias(transaction, ServerKey(token, transaction.key.sent_by, "INVITE"))


def _resend_last(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    # §17.2.1: a retransmitted INVITE gets the most recent response again
    if transaction.last_response is not None:
        core.transmit(transaction, transaction.last_response)


def _send_provisional(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    _send(core, transaction, message)


def _send_final_once(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    # §8.2.7 / §16.6: a stateless final (a challenge) goes out once; the transaction ends,
    # so Timer G never retransmits it and its ACK matches nothing (the TU absorbs it)
    assert isinstance(message, Response)
    core.transmit(transaction, message)


def _send_first_2xx(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    response = _send(core, transaction, message)
    _register_ack_alias(core, transaction, response)
    core.arm_wait(transaction, TransactionInput.TIMER_L, transaction.timers.l, now)


def _send_another_2xx(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    # RFC 6026 §8.5: 2xx from the TU in Accepted are sent, never retransmitted by us
    assert isinstance(message, Response)
    core.transmit(transaction, message)


def _send_non_2xx(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    response = _send(core, transaction, message)
    _register_ack_alias(core, transaction, response)
    timers = transaction.timers
    if timers.g is not None:  # §17.2.1: Timer G only on unreliable transports
        core.arm_retransmit(transaction, TransactionInput.TIMER_G, timers.g, now)
    core.arm_timeout(transaction, TransactionInput.TIMER_H, timers.h, now)


def _retransmit_final(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    # §17.2.1: Timer G doubles, capped at T2
    assert transaction.last_response is not None
    core.transmit(transaction, transaction.last_response)
    interval = min(2 * transaction.interval, transaction.timers.t2)
    core.arm_retransmit(transaction, TransactionInput.TIMER_G, interval, now)


def _time_out(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    # §17.2.1: Timer H means the ACK never came; the TU is told of the failure
    core.emit(TransactionTimeout(transaction.key))


def _confirm(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    core.cancel_retransmit(transaction)
    core.cancel_timeout(transaction)
    core.arm_wait(transaction, TransactionInput.TIMER_I, transaction.timers.i, now)


def _ack_to_tu(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    # RFC 6026 §8.7: an ACK that matches in Accepted goes to the TU
    assert isinstance(message, Request)
    core.emit(AckReceived(message, core.source or transaction.peer))


def _transport_error(
    core: Core, transaction: InviteServerTransaction, message: Request | Response | None, now: float
) -> None:
    core.emit(TransportErrorOccurred(transaction.key))


_Input = TransactionInput

#: §17.2.1 / Figure 7 with RFC 6026 Figure 5. ``None`` actions absorb the input. Responses
#: from the TU have entries only where sending them is legal; elsewhere the lookup fails
#: and ``send_response`` raises TransactionError.
TABLE: Final[Table[InviteServerTransaction]] = {
    (_PROCEEDING, _Input.REQUEST_RETRANSMISSION): (_resend_last, _PROCEEDING),
    (_PROCEEDING, _Input.ACK): (None, _PROCEEDING),  # no final sent yet: nothing to ACK
    (_PROCEEDING, _Input.PROVISIONAL): (_send_provisional, _PROCEEDING),
    (_PROCEEDING, _Input.FINAL_2XX): (_send_first_2xx, _ACCEPTED),
    (_PROCEEDING, _Input.FINAL_NON_2XX): (_send_non_2xx, _COMPLETED),
    (_PROCEEDING, _Input.FINAL_STATELESS): (_send_final_once, _TERMINATED),  # §8.2.7
    (_PROCEEDING, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
    (_COMPLETED, _Input.REQUEST_RETRANSMISSION): (_resend_last, _COMPLETED),
    (_COMPLETED, _Input.ACK): (_confirm, _CONFIRMED),
    (_COMPLETED, _Input.TIMER_G): (_retransmit_final, _COMPLETED),
    (_COMPLETED, _Input.TIMER_H): (_time_out, _TERMINATED),
    (_COMPLETED, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
    # §17.2.1: Confirmed absorbs ACK retransmissions (and late INVITE retransmissions)
    (_CONFIRMED, _Input.REQUEST_RETRANSMISSION): (None, _CONFIRMED),
    (_CONFIRMED, _Input.ACK): (None, _CONFIRMED),
    (_CONFIRMED, _Input.TIMER_I): (None, _TERMINATED),
    (_CONFIRMED, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
    # RFC 6026 §8.7: INVITE retransmissions absorbed; the TU owns 2xx retransmission
    (_ACCEPTED, _Input.REQUEST_RETRANSMISSION): (None, _ACCEPTED),
    (_ACCEPTED, _Input.ACK): (_ack_to_tu, _ACCEPTED),
    (_ACCEPTED, _Input.FINAL_2XX): (_send_another_2xx, _ACCEPTED),
    (_ACCEPTED, _Input.TIMER_L): (None, _TERMINATED),
    (_ACCEPTED, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
}

#: States this machine can be in.
STATES: Final = frozenset({_PROCEEDING, _COMPLETED, _CONFIRMED, _ACCEPTED, _TERMINATED})

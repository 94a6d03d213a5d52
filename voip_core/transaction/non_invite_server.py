"""Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

Theory of operation: the transaction starts in TRYING, where retransmissions of the
request are discarded because there is nothing to resend yet. A provisional response from
the TU moves it to PROCEEDING and a final one to COMPLETED; in both, a retransmitted
request is answered with the last response sent. Timer J (64*T1 on UDP, zero on reliable
transports) keeps the transaction in COMPLETED long enough to absorb the client's
retransmissions. No response is retransmitted on a timer: the client's retransmissions
drive it (§17.2.2). A CANCEL is served by this machine too.

A TU may answer statelessly instead (RFC 3261 §8.2.7, "for example, to respond to
unauthenticated requests with a challenge"): the final response is sent once and the
transaction ends at once, without Timer J, so that a flood of unauthenticated requests
leaves nothing behind. A retransmission of the request then starts a new transaction and
is answered afresh, which is what a stateless UAS does.
"""

from __future__ import annotations

from typing import Final

from voip_core.sip.message import Request, Response
from voip_core.sip.peer import Peer
from voip_core.transaction._core import Core, ServerTransaction, Table, run_transition
from voip_core.transaction.events import TransportErrorOccurred
from voip_core.transaction.keys import ServerKey
from voip_core.transaction.states import TransactionInput, TransactionState

__all__ = ["STATES", "TABLE", "NonInviteServerTransaction", "start"]

_TRYING: Final = TransactionState.TRYING
_PROCEEDING: Final = TransactionState.PROCEEDING
_COMPLETED: Final = TransactionState.COMPLETED
_TERMINATED: Final = TransactionState.TERMINATED


class NonInviteServerTransaction(ServerTransaction):
    """A server transaction for any method but INVITE and ACK."""

    __slots__ = ()

    KIND = "non-INVITE server"

    def handle(
        self, core: Core, event: TransactionInput, message: Request | Response | None, now: float
    ) -> None:
        """Feed one input through :data:`TABLE`."""
        run_transition(core, self, TABLE, event, message, now)


def start(core: Core, key: ServerKey, request: Request, source: Peer) -> NonInviteServerTransaction:
    """Create the transaction in TRYING."""
    transaction = NonInviteServerTransaction(key, request, source, _TRYING, core.timers_for(source))
    core.add_server(transaction)
    return transaction


# -- actions ------------------------------------------------------------------------------


def _resend_last(
    core: Core,
    transaction: NonInviteServerTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    # §17.2.2: in Proceeding and Completed a retransmission gets the last response again
    assert transaction.last_response is not None
    core.transmit(transaction, transaction.last_response)


def _send_provisional(
    core: Core,
    transaction: NonInviteServerTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    assert isinstance(message, Response)
    transaction.last_response = message
    core.transmit(transaction, message)


def _send_final(
    core: Core,
    transaction: NonInviteServerTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    assert isinstance(message, Response)
    transaction.last_response = message
    core.transmit(transaction, message)
    core.arm_wait(transaction, TransactionInput.TIMER_J, transaction.timers.j, now)


def _send_final_once(
    core: Core,
    transaction: NonInviteServerTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    assert isinstance(message, Response)
    core.transmit(transaction, message)


def _transport_error(
    core: Core,
    transaction: NonInviteServerTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    core.emit(TransportErrorOccurred(transaction.key))


_Input = TransactionInput

#: §17.2.2 / Figure 8. ``None`` actions absorb the input. A response from the TU after the
#: final one has no entry, so ``send_response`` raises TransactionError.
TABLE: Final[Table[NonInviteServerTransaction]] = {
    (_TRYING, _Input.REQUEST_RETRANSMISSION): (None, _TRYING),  # §17.2.2: discarded in Trying
    (_TRYING, _Input.PROVISIONAL): (_send_provisional, _PROCEEDING),
    (_TRYING, _Input.FINAL_2XX): (_send_final, _COMPLETED),
    (_TRYING, _Input.FINAL_NON_2XX): (_send_final, _COMPLETED),
    (_TRYING, _Input.FINAL_STATELESS): (_send_final_once, _TERMINATED),  # §8.2.7
    (_TRYING, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
    (_PROCEEDING, _Input.REQUEST_RETRANSMISSION): (_resend_last, _PROCEEDING),
    (_PROCEEDING, _Input.PROVISIONAL): (_send_provisional, _PROCEEDING),
    (_PROCEEDING, _Input.FINAL_2XX): (_send_final, _COMPLETED),
    (_PROCEEDING, _Input.FINAL_NON_2XX): (_send_final, _COMPLETED),
    (_PROCEEDING, _Input.FINAL_STATELESS): (_send_final_once, _TERMINATED),  # §8.2.7
    (_PROCEEDING, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
    (_COMPLETED, _Input.REQUEST_RETRANSMISSION): (_resend_last, _COMPLETED),
    (_COMPLETED, _Input.TIMER_J): (None, _TERMINATED),
    (_COMPLETED, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
}

#: States this machine can be in.
STATES: Final = frozenset({_TRYING, _PROCEEDING, _COMPLETED, _TERMINATED})

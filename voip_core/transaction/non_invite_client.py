"""Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).

Theory of operation: the request goes out at once in TRYING. On unreliable transports
Timer E retransmits it, doubling from T1 up to T2 (§17.1.2.2); once a provisional response
has arrived (PROCEEDING) every retransmission waits T2. Timer F (64*T1) ends the
transaction with a timeout unless a final response arrived first. After a final response
the transaction waits Timer K (T4 on UDP, zero on reliable transports) in COMPLETED to
absorb response retransmissions.

The same machine carries the CANCEL the layer sends for :meth:`cancel_client`.
"""

from __future__ import annotations

from typing import Final

from voip_core.sip.message import Request, Response
from voip_core.sip.peer import Peer
from voip_core.transaction._core import ClientTransaction, Core, Table, run_transition
from voip_core.transaction.events import (
    ResponseReceived,
    TransactionTimeout,
    TransportErrorOccurred,
)
from voip_core.transaction.keys import ClientKey
from voip_core.transaction.states import TransactionInput, TransactionState

__all__ = ["STATES", "TABLE", "NonInviteClientTransaction", "start"]

_TRYING: Final = TransactionState.TRYING
_PROCEEDING: Final = TransactionState.PROCEEDING
_COMPLETED: Final = TransactionState.COMPLETED
_TERMINATED: Final = TransactionState.TERMINATED


class NonInviteClientTransaction(ClientTransaction):
    """A client transaction for any method but INVITE and ACK."""

    __slots__ = ()

    KIND = "non-INVITE client"

    def handle(
        self, core: Core, event: TransactionInput, message: Request | Response | None, now: float
    ) -> None:
        """Feed one input through :data:`TABLE`."""
        run_transition(core, self, TABLE, event, message, now)


def start(
    core: Core, key: ClientKey, request: Request, destination: Peer, now: float
) -> NonInviteClientTransaction:
    """Create the transaction in TRYING, send the request and arm Timers E and F."""
    timers = core.timers_for(destination)
    transaction = NonInviteClientTransaction(key, request, destination, _TRYING, timers)
    core.add_client(transaction)
    core.transmit(transaction, request)
    if timers.e is not None:  # §17.1.2.2: Timer E only on unreliable transports
        core.arm_retransmit(transaction, TransactionInput.TIMER_E, timers.e, now)
    core.arm_timeout(transaction, TransactionInput.TIMER_F, timers.f, now)
    return transaction


# -- actions ------------------------------------------------------------------------------


def _retransmit_doubling(
    core: Core,
    transaction: NonInviteClientTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    # §17.1.2.2: in Trying, Timer E doubles, capped at T2
    core.transmit(transaction, transaction.request)
    interval = min(2 * transaction.interval, transaction.timers.t2)
    core.arm_retransmit(transaction, TransactionInput.TIMER_E, interval, now)


def _retransmit_t2(
    core: Core,
    transaction: NonInviteClientTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    # §17.1.2.2: in Proceeding, Timer E is reset with T2 every time
    core.transmit(transaction, transaction.request)
    core.arm_retransmit(transaction, TransactionInput.TIMER_E, transaction.timers.t2, now)


def _pass_up(
    core: Core,
    transaction: NonInviteClientTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    assert isinstance(message, Response)
    core.emit(ResponseReceived(transaction.key, message))


def _complete(
    core: Core,
    transaction: NonInviteClientTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    assert isinstance(message, Response)
    core.emit(ResponseReceived(transaction.key, message))
    core.cancel_retransmit(transaction)
    core.cancel_timeout(transaction)
    core.arm_wait(transaction, TransactionInput.TIMER_K, transaction.timers.k, now)


def _time_out(
    core: Core,
    transaction: NonInviteClientTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    core.emit(TransactionTimeout(transaction.key))


def _transport_error(
    core: Core,
    transaction: NonInviteClientTransaction,
    message: Request | Response | None,
    now: float,
) -> None:
    core.emit(TransportErrorOccurred(transaction.key))


_Input = TransactionInput

#: §17.1.2.2 / Figure 6. ``None`` actions absorb the input.
TABLE: Final[Table[NonInviteClientTransaction]] = {
    (_TRYING, _Input.TIMER_E): (_retransmit_doubling, _TRYING),
    (_TRYING, _Input.TIMER_F): (_time_out, _TERMINATED),
    (_TRYING, _Input.PROVISIONAL): (_pass_up, _PROCEEDING),
    (_TRYING, _Input.FINAL_2XX): (_complete, _COMPLETED),
    (_TRYING, _Input.FINAL_NON_2XX): (_complete, _COMPLETED),
    (_TRYING, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
    (_PROCEEDING, _Input.TIMER_E): (_retransmit_t2, _PROCEEDING),
    (_PROCEEDING, _Input.TIMER_F): (_time_out, _TERMINATED),
    (_PROCEEDING, _Input.PROVISIONAL): (_pass_up, _PROCEEDING),
    (_PROCEEDING, _Input.FINAL_2XX): (_complete, _COMPLETED),
    (_PROCEEDING, _Input.FINAL_NON_2XX): (_complete, _COMPLETED),
    (_PROCEEDING, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
    # §17.1.2.2: Completed buffers response retransmissions (late 1xx included)
    (_COMPLETED, _Input.PROVISIONAL): (None, _COMPLETED),
    (_COMPLETED, _Input.FINAL_2XX): (None, _COMPLETED),
    (_COMPLETED, _Input.FINAL_NON_2XX): (None, _COMPLETED),
    (_COMPLETED, _Input.TIMER_K): (None, _TERMINATED),
    (_COMPLETED, _Input.TRANSPORT_ERROR): (_transport_error, _TERMINATED),
}

#: States this machine can be in.
STATES: Final = frozenset({_TRYING, _PROCEEDING, _COMPLETED, _TERMINATED})

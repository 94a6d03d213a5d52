"""States and inputs shared by the four transaction state machines (RFC 3261 §17, RFC 6026).

Each machine module maps ``(TransactionState, TransactionInput)`` pairs to an action and a
next state. The same input name means "this message class" on both sides: for a client
transaction ``FINAL_2XX`` is a 2xx that arrived from the network, for a server transaction
it is a 2xx the transaction user hands down for sending.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["TransactionInput", "TransactionState"]


class TransactionState(Enum):
    """RFC 3261 §17 state names, plus ``ACCEPTED`` from RFC 6026 §7."""

    # Members are singletons compared by identity, so identity hashing is exact and keeps
    # the (state, input) table lookup in C; ``Enum.__hash__`` is Python code.
    __hash__ = object.__hash__

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class TransactionInput(Enum):
    """What can happen to a transaction: a message, a timer, a TU request or an error."""

    __hash__ = object.__hash__

    REQUEST_RETRANSMISSION = "request retransmission"
    """Server: the request that created the transaction arrived again."""
    ACK = "ACK"
    """INVITE server: an ACK matching the transaction (§17.2.3)."""
    CANCEL = "CANCEL"
    """INVITE client: the TU asked to cancel the request (§9.1)."""
    PROVISIONAL = "1xx"
    """Client: a 1xx arrived. Server: the TU sends a 1xx."""
    FINAL_2XX = "2xx"
    """Client: a 2xx arrived. Server: the TU sends a 2xx."""
    FINAL_NON_2XX = "300-699"
    """Client: a 300-699 arrived. Server: the TU sends a 300-699."""
    FINAL_STATELESS = "stateless final"
    """Non-INVITE server: the TU sends a final response and keeps no state for it (§8.2.7)."""
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"
    TRANSPORT_ERROR = "transport error"
    """The transport failed to send one of the transaction's messages (§17.1.4, §17.2.4)."""

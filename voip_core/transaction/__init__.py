"""RFC 3261 §17 transactions (with RFC 6026's Accepted state), free of I/O.

Use :class:`TransactionLayer`; see :mod:`voip_core.transaction.layer` for how an adapter
drives it.
"""

from voip_core.sip.exceptions import TransactionError
from voip_core.transaction.events import (
    AckReceived,
    Event,
    Outbound,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionTerminated,
    TransactionTimeout,
    TransportErrorOccurred,
)
from voip_core.transaction.keys import ClientKey, ServerKey, new_branch
from voip_core.transaction.layer import TransactionLayer
from voip_core.transaction.states import TransactionInput, TransactionState
from voip_core.transaction.timers import TimerConfig, TransportTimers

__all__ = [
    "AckReceived",
    "ClientKey",
    "Event",
    "Outbound",
    "RequestReceived",
    "ResponseReceived",
    "ServerKey",
    "StrayResponse",
    "TimerConfig",
    "TransactionError",
    "TransactionInput",
    "TransactionLayer",
    "TransactionState",
    "TransactionTerminated",
    "TransactionTimeout",
    "TransportErrorOccurred",
    "TransportTimers",
    "new_branch",
]

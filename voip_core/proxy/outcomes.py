"""How the calls the proxy forwarded ended, counted by outcome for the metrics.

A call is an initial INVITE routed to a callee (an extension's contacts or a trunk);
its outcome is the final response sent upstream (RFC 3261 §16.7): the first 2xx, else
the best response once every branch completed. A call whose server transaction ended
without a final response (the caller's flow failed) failed. Requests refused before
they were forwarded (unknown number, unregistered extension) are not calls here.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CALL_OUTCOMES", "CallOutcomes", "call_outcome"]

#: Every outcome, in the order the metrics list them.
CALL_OUTCOMES: Final = ("answered", "busy", "no_answer", "cancelled", "declined", "failed")

_BY_STATUS: Final = {
    486: "busy",  # Busy Here
    600: "busy",  # Busy Everywhere
    408: "no_answer",  # Request Timeout: no branch answered (Timer C / Timer B)
    480: "no_answer",  # Temporarily Unavailable
    487: "cancelled",  # Request Terminated: the caller's CANCEL, or Timer C (§16.8)
    603: "declined",  # Decline
}


def call_outcome(status_code: int | None) -> str:
    """The outcome of a call whose final response had ``status_code`` (``None``: none)."""
    if status_code is None:
        return "failed"
    if 200 <= status_code < 300:
        return "answered"
    return _BY_STATUS.get(status_code, "failed")


class CallOutcomes:
    """Calls ended so far, by outcome."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(CALL_OUTCOMES, 0)

    def count(self, status_code: int | None) -> None:
        """Count one call that ended with ``status_code`` (``None``: no final response)."""
        self.counts[call_outcome(status_code)] += 1

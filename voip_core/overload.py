"""The overload policy: when new requests are refused, and what the operator is told.

Theory of operation: pure, like the rest of the core. The node adapter measures and
feeds :class:`OverloadPolicy` what it saw, with explicit ``now``; the policy returns
decisions and log lines, and the adapter acts on them (answers 503, logs).

New requests other than ACK, CANCEL and BYE are refused (statelessly, with 503 and
Retry-After, RFC 3261 §21.5.4) for the first of these reasons that holds
(:data:`SHED_REASONS`, in that order):

- ``backlog``: more than ``max_backlog`` bytes of datagrams wait in the UDP receive
  buffers. The kernel's count grows as soon as datagrams arrive faster than they are
  handled, long before client transactions time out, while the loop itself stays
  prompt, since it reads a bounded batch per turn;
- ``lag``: the event loop ran late by more than ``max_lag`` seconds at
  :data:`LATE_MEASUREMENTS` measurements in a row; this catches the same on stream
  connections;
- ``transactions``: more than ``max_transactions`` transactions are live.

Answering 503 costs a parse and a short reply where a call costs a dozen messages.
Without shedding, late answers make every client retransmit (Timers A and E double only
from T1 = 500 ms), the retransmissions add load, and throughput collapses; with it, the
accepted calls complete and the rest retry later.

Reporting: the first refused request logs one warning naming the limit (not a
measurement crossing it: a stall with no request waiting, the start-up say, refused
nothing), at most every :data:`OVERLOAD_REPORT_INTERVAL` seconds; the first measurement
that finds no reason any more logs that new requests are taken again. Refused requests
are counted by reason; the statistics name the counters with :func:`shed_key`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "LATE_MEASUREMENTS",
    "OVERLOAD_REPORT_INTERVAL",
    "SHED_REASONS",
    "OverloadLimits",
    "OverloadPolicy",
    "shed_key",
]

#: Late measurements in a row that make the node shed. One alone is a stall (a
#: garbage-collector pass, a descheduled CPU, a burst just read): the requests that
#: waited through it are already read, and refusing the next ones would throw work away
#: without relieving anything; a loop that stays late is overloaded.
LATE_MEASUREMENTS: Final = 2
#: What can make the node refuse new requests, in the order they are checked.
SHED_REASONS: Final = ("backlog", "lag", "transactions")
#: Shortest time between two warnings that the node is overloaded, in seconds.
OVERLOAD_REPORT_INTERVAL: Final = 10.0


def shed_key(reason: str) -> str:
    """The statistics' name of the counter of requests refused for ``reason``."""
    return f"shed_{reason}"


@dataclass(frozen=True, slots=True)
class OverloadLimits:
    """Where overload begins."""

    max_backlog: int = 1024 * 1024
    """Bytes waiting in the UDP receive buffers."""
    max_lag: float = 0.2
    """Seconds the event loop may run late at a measurement."""
    max_transactions: int = 200_000
    """Live transactions."""


class OverloadPolicy:
    """The measurements, the decision to shed and its reason, and the counters."""

    def __init__(self, limits: OverloadLimits) -> None:
        self.limits = limits
        #: How late the event loop ran at the last measurement, in seconds.
        self.lag = 0.0
        #: Measurements in a row that found the loop later than ``max_lag``.
        self.late_streak = 0
        #: Bytes waiting in the receive buffers at the last measurement.
        self.backlog_bytes = 0
        #: Requests refused, by reason (see :data:`SHED_REASONS`).
        self.shed_by_reason: dict[str, int] = {}
        self._reported_reason: str | None = None
        self._next_report = 0.0

    @property
    def shed_count(self) -> int:
        """Requests refused in all."""
        return sum(self.shed_by_reason.values())

    def reason(self, transactions: int) -> str | None:
        """Why new requests are refused now, with ``transactions`` live; ``None`` if not."""
        limits = self.limits
        if self.backlog_bytes > limits.max_backlog:
            return "backlog"
        if self.late_streak >= LATE_MEASUREMENTS:
            return "lag"
        if transactions >= limits.max_transactions:
            return "transactions"
        return None

    def measure(self, *, lag: float, backlog_bytes: int, transactions: int) -> str | None:
        """Take one measurement; returns the line to log when overload has just ended."""
        self.lag = max(0.0, lag)
        self.late_streak = self.late_streak + 1 if self.lag > self.limits.max_lag else 0
        self.backlog_bytes = backlog_bytes
        if self._reported_reason is not None and self.reason(transactions) is None:
            self._reported_reason = None
            return f"no longer overloaded: taking new requests ({self.shed_count} refused in all)"
        return None

    def shed(self, reason: str, transactions: int, now: float) -> str | None:
        """Count one request refused for ``reason``; returns the warning to log, if due."""
        self.shed_by_reason[reason] = self.shed_by_reason.get(reason, 0) + 1
        if self._reported_reason is not None or now < self._next_report:
            return None
        self._reported_reason = reason
        self._next_report = now + OVERLOAD_REPORT_INTERVAL
        return f"overloaded: {self._detail(reason, transactions)}; refusing new requests with 503"

    def _detail(self, reason: str, transactions: int) -> str:
        limits = self.limits
        if reason == "backlog":
            return (
                f"{self.backlog_bytes} bytes wait in the UDP receive buffers "
                f"(limit {limits.max_backlog})"
            )
        if reason == "lag":
            return (
                f"the event loop runs {self.lag * 1000:.0f} ms late "
                f"(limit {limits.max_lag * 1000:.0f} ms)"
            )
        return f"{transactions} live transactions (limit {limits.max_transactions})"

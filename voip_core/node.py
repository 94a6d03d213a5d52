"""The asyncio adapter that runs the sans-IO SIP core: parse, feed, drain, re-arm one timer.

Theory of operation (like aioquic's ``asyncio/protocol.py``): every message the transports
deliver is parsed and fed to the :class:`TransactionLayer`; the layer's events go to the
:class:`Proxy`; then everything both queued for sending goes to the transports, and a
single ``loop.call_at`` is re-armed for the earliest deadline either engine has. Malformed
input is answered here with the 400 the parser describes (or dropped when no response can
be formed) and never escapes into the transport.

Overload: new requests other than ACK, CANCEL and BYE are refused statelessly with 503
and Retry-After (RFC 3261 §21.5.4) while more than ``max_backlog`` bytes of datagrams
wait in the UDP receive buffers, while the event loop runs late by more than ``max_lag``
seconds at :data:`LATE_MEASUREMENTS` measurements in a row, or while more than
``max_transactions`` transactions are live. Backlog and lag are measured every
:data:`LAG_INTERVAL` seconds. The backlog (``backlog()``, the kernel's
count of queued bytes) grows as soon as datagrams arrive faster than they are handled,
long before the client transactions time out, while the loop itself stays prompt, since
it reads a bounded batch per turn; the lag catches the same on stream connections.
Answering 503 costs a parse and a short reply where a call costs a dozen messages.
Without shedding, late answers make every client retransmit (Timers A and E double
only from T1 = 500 ms), the retransmissions add load, and throughput collapses; with
it, the accepted calls complete and the rest retry later.
Transactions already begun are never refused: a retransmission is absorbed as usual.
Nor is a REGISTER the registrar spares (``spare_register``, given the wall clock): one
that answers a challenge sent moments ago completes a registration whose first half was
already paid for, and refusing it would throw that work away; one without credentials is
answered by a stateless 401 that costs no more than the 503. Offered 4,600 REGISTER/s for
30 s, about 15 % above what two workers hold, shedding every REGISTER alike completed
19 % of the registrations and sparing the answers to challenges 41 % (one run each,
``bench/bench_proxy.py``'s scenario). Refreshes with old nonces are still refused.

The first line of shedding is the kernel's: the UDP receive buffer is kept small
(``DEFAULT_UDP_RECEIVE_BUFFER`` in :mod:`voip_core.transport.manager`) so that no request
waits there longer than a fraction of T1 before it is answered or dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Final, Protocol

from voip_core.proxy.core import Proxy
from voip_core.proxy.responses import response_destination
from voip_core.sip.exceptions import ParseError, RemoteProtocolError
from voip_core.sip.message import Request, make_response
from voip_core.sip.parser import parse_message
from voip_core.sip.peer import Peer
from voip_core.sip.reply import make_error_response
from voip_core.traffic import TrafficCounters
from voip_core.transaction import TransactionLayer
from voip_core.transaction.keys import server_key

__all__ = ["SHED_REASONS", "Sender", "SipNode"]

logger = logging.getLogger(__name__)

#: Requests that finish existing work; never refused under overload.
_NEVER_SHED = frozenset({"ACK", "CANCEL", "BYE"})
#: Seconds between two measurements of the event loop's lag.
LAG_INTERVAL: Final = 0.05
#: Late measurements in a row that make the node shed. One alone is a stall (a
#: garbage-collector pass, a descheduled CPU, a burst just read): the requests that
#: waited through it are already read, and refusing the next ones would throw work
#: away without relieving anything; a loop that stays late is overloaded. Measured
#: with ``bench/bench_proxy.py`` (2 workers, 8 s steps): refusing at the first late
#: measurement failed calls at 400/s with 121 % CPU, all 503s for lag; not at all, the
#: calls passed up to 550/s at 149 % CPU.
LATE_MEASUREMENTS: Final = 2
#: What can make the node refuse new requests (:attr:`SipNode.overload_reason`).
SHED_REASONS: Final = ("backlog", "lag", "transactions")
#: Shortest time between two warnings that the node is overloaded.
OVERLOAD_REPORT_INTERVAL: Final = 10.0


class Sender(Protocol):
    """Where the node's messages go: the transport manager, or a worker's cluster router."""

    def send(self, data: bytes, peer: Peer) -> None: ...


class SipNode:
    """Connects transports, the transaction layer and the proxy on one event loop."""

    def __init__(
        self,
        *,
        layer: TransactionLayer,
        proxy: Proxy,
        loop: asyncio.AbstractEventLoop,
        max_transactions: int = 200_000,
        retry_after: int = 5,
        max_lag: float = 0.2,
        backlog: Callable[[], int] | None = None,
        max_backlog: int = 1024 * 1024,
        spare_register: Callable[[Request, float], bool] | None = None,
    ) -> None:
        self.layer = layer
        self.proxy = proxy
        self._loop = loop
        self._transports: Sender | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._max_transactions = max_transactions
        self._retry_after = retry_after
        self._max_lag = max_lag
        self._backlog = backlog or (lambda: 0)
        self._max_backlog = max_backlog
        #: Whether a REGISTER is served even under overload (request, wall clock).
        self._spare_register = spare_register or (lambda request, wall: False)
        #: How late the event loop ran at the last measurement, in seconds.
        self.lag = 0.0
        #: Measurements in a row that found the loop later than ``max_lag``.
        self.late_streak = 0
        #: Bytes waiting in the receive buffers at the last measurement.
        self.backlog_bytes = 0
        self._lag_expected = loop.time() + LAG_INTERVAL
        self._lag_handle: asyncio.TimerHandle | None = loop.call_at(
            self._lag_expected, self._measure_lag
        )
        #: Requests refused, by what made the node overloaded (see :attr:`overload_reason`).
        self.shed_by_reason: dict[str, int] = {}
        self._reported_reason: str | None = None
        self._next_report = 0.0
        self.internal_errors = 0
        self.malformed_count = 0
        #: Messages parsed and responses sent, for the statistics and metrics.
        self.traffic = TrafficCounters()

    def attach(self, transports: Sender) -> None:
        """Set where messages are sent (created after the node, as it calls back into it)."""
        self._transports = transports

    # -- input ------------------------------------------------------------------------

    def on_message(self, data: bytes, peer: Peer, stream: bool) -> None:
        """Handle one received message (a datagram or a stream frame)."""
        try:
            message = parse_message(data, stream=stream)
        except ParseError as error:
            self.malformed_count += 1
            reply = make_error_response(error)
            if logger.isEnabledFor(logging.INFO):
                logger.info("malformed message from %s: %s", peer, error)
            if reply is not None:
                self.traffic.sent(reply)
                self._send(bytes(reply), peer)
            return
        self.traffic.received(message)
        if (
            isinstance(message, Request)
            and message.method not in _NEVER_SHED
            and self.overloaded
            and self._is_new(message)
            and not (message.method == "REGISTER" and self._spare_register(message, time.time()))
        ):
            self._shed(message, peer)
            return
        now = self._loop.time()
        try:
            self.layer.receive(message, peer, now)
        except RemoteProtocolError as error:
            logger.info("refused message from %s: %s", peer, error)
        self._pump(now)

    @property
    def shed_count(self) -> int:
        """Requests refused with 503 in all."""
        return sum(self.shed_by_reason.values())

    @property
    def overloaded(self) -> bool:
        """Whether new requests are refused now (see the module docstring)."""
        return self.overload_reason is not None

    @property
    def overload_reason(self) -> str | None:
        """What makes the node refuse new requests now (``"backlog"``, ``"lag"`` or
        ``"transactions"``, checked in that order), ``None`` when it takes them."""
        if self.backlog_bytes > self._max_backlog:
            return "backlog"
        if self.late_streak >= LATE_MEASUREMENTS:
            return "lag"
        if len(self.layer) >= self._max_transactions:
            return "transactions"
        return None

    def _measure_lag(self) -> None:
        now = self._loop.time()
        self.lag = max(0.0, now - self._lag_expected)
        self.late_streak = self.late_streak + 1 if self.lag > self._max_lag else 0
        self.backlog_bytes = self._backlog()
        self._lag_expected = now + LAG_INTERVAL
        self._lag_handle = self._loop.call_at(self._lag_expected, self._measure_lag)
        self._report_overload(now)

    def _report_overload(self, now: float) -> None:
        """Log when the node takes new requests again after refusing some."""
        if self._reported_reason is not None and self.overload_reason is None:
            logger.info(
                "no longer overloaded: taking new requests (%d refused in all)", self.shed_count
            )
            self._reported_reason = None

    def _overload_detail(self, reason: str) -> str:
        if reason == "backlog":
            return (
                f"{self.backlog_bytes} bytes wait in the UDP receive buffers "
                f"(limit {self._max_backlog})"
            )
        if reason == "lag":
            return (
                f"the event loop runs {self.lag * 1000:.0f} ms late "
                f"(limit {self._max_lag * 1000:.0f} ms)"
            )
        return f"{len(self.layer)} live transactions (limit {self._max_transactions})"

    def _is_new(self, request: Request) -> bool:
        """Whether ``request`` would start a transaction (not a retransmission)."""
        try:
            return server_key(request, request.top_via(), request.method) not in self.layer
        except RemoteProtocolError:
            return True

    def on_transport_error(self, peer: Peer) -> None:
        """A send to ``peer`` failed: end the transactions that depended on it."""
        now = self._loop.time()
        self.layer.transport_error(peer=peer, now=now)
        self._pump(now)

    # -- output -----------------------------------------------------------------------

    def _pump(self, now: float) -> None:
        wall = time.time()
        layer = self.layer
        proxy = self.proxy
        while (event := layer.next_event()) is not None:
            try:
                proxy.handle_event(event, now, wall)
            except Exception:
                # A bug in handling one event must not stop the others, the sends and the
                # timer (the whole server would hang); it is logged with its traceback.
                self.internal_errors += 1
                logger.exception("internal error handling %s", type(event).__name__)
        traffic = self.traffic
        for outbound in layer.messages_to_send():
            traffic.sent(outbound.message)
            self._send(bytes(outbound.message), outbound.destination)
        for outbound in proxy.messages_to_send():
            traffic.sent(outbound.message)
            self._send(bytes(outbound.message), outbound.destination)
        self._arm(now)

    def _send(self, data: bytes, destination: Peer) -> None:
        assert self._transports is not None, "attach() the transport manager first"
        self._transports.send(data, destination)

    def _arm(self, now: float) -> None:
        deadlines = [d for d in (self.layer.next_timer(), self.proxy.next_timer()) if d is not None]
        if not deadlines:
            return
        deadline = min(deadlines)
        if self._timer is not None and self._timer_at is not None and self._timer_at <= deadline:
            return  # the armed timer fires first; it re-arms for the rest
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self._loop.time()
        self.layer.handle_timer(now)
        self.proxy.handle_timer(now)
        self._pump(now)

    def _shed(self, request: Request, peer: Peer) -> None:
        reason = self.overload_reason
        assert reason is not None, "only an overloaded node sheds"
        self.shed_by_reason[reason] = self.shed_by_reason.get(reason, 0) + 1
        if self._reported_reason is None and (now := self._loop.time()) >= self._next_report:
            # Said when a request is refused, not when a measurement crosses a limit: a
            # stall with no request waiting (the start-up, say) refused nothing.
            logger.warning(
                "overloaded: %s; refusing new requests with 503", self._overload_detail(reason)
            )
            self._reported_reason = reason
            self._next_report = now + OVERLOAD_REPORT_INTERVAL
        # §8.2.6.2: a final response tags To; derived, so retransmissions get the same one.
        tag = hashlib.blake2b(
            request.call_id.encode("utf-8", "surrogateescape"), digest_size=6
        ).hexdigest()
        response = make_response(
            request,
            503,
            "Service Unavailable (overloaded)",
            to_tag=tag,
            headers=(("Retry-After", str(self._retry_after)),),
        )
        self.traffic.sent(response)
        self._send(bytes(response), response_destination(request.vias()[0], peer))

    def close(self) -> None:
        """Stop the timers."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._lag_handle is not None:
            self._lag_handle.cancel()
            self._lag_handle = None

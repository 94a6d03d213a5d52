"""The asyncio adapter that runs the sans-IO SIP core: parse, feed, drain, re-arm one timer.

Theory of operation (like aioquic's ``asyncio/protocol.py``): every message the transports
deliver is parsed and fed to the :class:`TransactionLayer`; the layer's events go to the
:class:`Proxy`; then everything both queued for sending goes to the transports, and a
single ``loop.call_at`` is re-armed for the earliest deadline either engine has. Malformed
input is answered here with the 400 the parser describes (or dropped when no response can
be formed) and never escapes into the transport.

Overload: the policy (:mod:`voip_core.overload`) decides; the node measures the event
loop's lag and the UDP receive backlog (``backlog()``, the kernel's count of queued
bytes) every :data:`LAG_INTERVAL` seconds, feeds the policy, and answers the new
requests it refuses with a stateless 503 and Retry-After (RFC 3261 §21.5.4).
Transactions already begun are never refused: a retransmission is absorbed as usual.
Nor is a REGISTER the registrar spares (``spare_register``, given the wall clock): one
that answers a challenge sent moments ago completes a registration whose first half was
already paid for, and refusing it would throw that work away; one without credentials is
answered by a stateless 401 that costs no more than the 503. Refreshes with old nonces
are still refused.

The first line of shedding is the kernel's: the UDP receive buffer is kept small
(``DEFAULT_UDP_RECEIVE_BUFFER`` in :mod:`voip_core.transport.manager`) so that no request
waits there longer than a fraction of T1 before it is answered or dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final, Protocol

from voip_core.overload import OverloadLimits, OverloadPolicy
from voip_core.proxy.core import Proxy
from voip_core.proxy.responses import derived_to_tag, response_destination
from voip_core.sip.exceptions import ParseError, RemoteProtocolError
from voip_core.sip.message import Request, make_response
from voip_core.sip.parser import parse_message
from voip_core.sip.peer import Peer
from voip_core.sip.reply import make_error_response
from voip_core.traffic import TrafficCounters
from voip_core.transaction import TransactionLayer
from voip_core.transaction.keys import server_key

__all__ = ["LAG_INTERVAL", "Sender", "SipNode"]

logger = logging.getLogger(__name__)

#: Requests that finish existing work; never refused under overload.
_NEVER_SHED = frozenset({"ACK", "CANCEL", "BYE"})
#: Seconds between two measurements of the event loop's lag and the receive backlog.
LAG_INTERVAL: Final = 0.05


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
        self._retry_after = retry_after
        self._backlog = backlog or (lambda: 0)
        #: Whether a REGISTER is served even under overload (request, wall clock).
        self._spare_register = spare_register or (lambda request, wall: False)
        #: The overload policy, its measurements and its counters by reason.
        self.overload = OverloadPolicy(
            OverloadLimits(
                max_backlog=max_backlog, max_lag=max_lag, max_transactions=max_transactions
            )
        )
        self._lag_expected = loop.time() + LAG_INTERVAL
        self._lag_handle: asyncio.TimerHandle | None = loop.call_at(
            self._lag_expected, self._measure_lag
        )
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
    def shed_by_reason(self) -> dict[str, int]:
        """Requests refused with 503, by reason (:data:`~voip_core.overload.SHED_REASONS`)."""
        return self.overload.shed_by_reason

    @property
    def shed_count(self) -> int:
        """Requests refused with 503 in all."""
        return self.overload.shed_count

    @property
    def overloaded(self) -> bool:
        """Whether new requests are refused now (see :mod:`voip_core.overload`)."""
        return self.overload_reason is not None

    @property
    def overload_reason(self) -> str | None:
        """What makes the node refuse new requests now, ``None`` when it takes them."""
        return self.overload.reason(len(self.layer))

    def _measure_lag(self) -> None:
        now = self._loop.time()
        ended = self.overload.measure(
            lag=now - self._lag_expected,
            backlog_bytes=self._backlog(),
            transactions=len(self.layer),
        )
        if ended is not None:
            logger.info("%s", ended)
        self._lag_expected = now + LAG_INTERVAL
        self._lag_handle = self._loop.call_at(self._lag_expected, self._measure_lag)

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
        transactions = len(self.layer)
        reason = self.overload.reason(transactions)
        assert reason is not None, "only an overloaded node sheds"
        warning = self.overload.shed(reason, transactions, self._loop.time())
        if warning is not None:
            logger.warning("%s", warning)
        response = make_response(
            request,
            503,
            "Service Unavailable (overloaded)",
            to_tag=derived_to_tag(request.call_id),
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

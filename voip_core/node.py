"""The asyncio adapter that runs the sans-IO SIP core: parse, feed, drain, re-arm one timer.

Theory of operation (like aioquic's ``asyncio/protocol.py``): every message the transports
deliver is parsed and fed to the :class:`TransactionLayer`; the layer's events go to the
:class:`Proxy`; then everything both queued for sending goes to the transports, and a
single ``loop.call_at`` is re-armed for the earliest deadline either engine has. Malformed
input is answered here with the 400 the parser describes (or dropped when no response can
be formed) and never escapes into the transport.

Overload: when more than ``max_transactions`` transactions are live, new requests other
than ACK, CANCEL and BYE are refused statelessly with 503 and Retry-After (RFC 3261
§21.5.4), which sheds load until the table drains.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Protocol

from voip_core.proxy.core import Proxy
from voip_core.proxy.responses import response_destination
from voip_core.sip.exceptions import ParseError, RemoteProtocolError
from voip_core.sip.message import Request, make_response
from voip_core.sip.parser import parse_message
from voip_core.sip.peer import Peer
from voip_core.sip.reply import make_error_response
from voip_core.transaction import TransactionLayer
from voip_core.transaction.keys import server_key

__all__ = ["Sender", "SipNode"]

logger = logging.getLogger(__name__)

#: Requests that finish existing work; never refused under overload.
_NEVER_SHED = frozenset({"ACK", "CANCEL", "BYE"})


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
        max_transactions: int = 50_000,
        retry_after: int = 5,
    ) -> None:
        self.layer = layer
        self.proxy = proxy
        self._loop = loop
        self._transports: Sender | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._max_transactions = max_transactions
        self._retry_after = retry_after
        self.shed_count = 0
        self.internal_errors = 0
        self.malformed_count = 0

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
                self._send(bytes(reply), peer)
            return
        if (
            isinstance(message, Request)
            and message.method not in _NEVER_SHED
            and len(self.layer) >= self._max_transactions
            and self._is_new(message)
        ):
            self._shed(message, peer)
            return
        now = self._loop.time()
        try:
            self.layer.receive(message, peer, now)
        except RemoteProtocolError as error:
            logger.info("refused message from %s: %s", peer, error)
        self._pump(now)

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
        for outbound in layer.messages_to_send():
            self._send(bytes(outbound.message), outbound.destination)
        for outbound in proxy.messages_to_send():
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
        self.shed_count += 1
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
        self._send(bytes(response), response_destination(request.vias()[0], peer))

    def close(self) -> None:
        """Stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

"""The stateful proxy: the transaction user that ties validation, routing and forking together.

Theory of operation: the node adapter feeds every transaction-layer event to
:meth:`Proxy.handle_event`, which hands it to one of two halves:

- a new request goes to the request side (:mod:`voip_core.proxy.request_handler`), one
  function per RFC 3261 §16 step: :func:`validate_request` (§16.3 steps 1-5),
  :func:`preprocess_route` (§16.4), the authorisation of initial requests (§16.3 step 6,
  challenges sent statelessly), :func:`determine_targets` (§16.5, via the numbering plan
  and the location service, :mod:`voip_core.proxy.targets`), and
  :func:`forward_request` (§16.6) once per target, each in its own client transaction;
- what comes back on those client transactions (responses, timeouts, transport errors)
  goes to the response side (:mod:`voip_core.proxy.context`): the §16.7 response context
  of each forwarded request, which forwards provisional and 2xx responses at once and the
  best final response when every branch has completed, cancelling the other branches
  (§16.7 step 10, §16.10), and runs Timer C (§16.8).

ACKs for 2xx and stray 2xx retransmissions are forwarded statelessly. The proxy never
touches media.

All interaction with the outside happens through the transaction layer (which queues what to
send) and :meth:`messages_to_send` for the stateless forwards; time is passed in as ``now``
(monotonic, for timers) and ``wall`` (epoch seconds, for registrations and call records).
"""

from __future__ import annotations

from typing import assert_never

from voip_core.proxy.config import ProxyConfig
from voip_core.proxy.context import CallRecord, ResponseContexts
from voip_core.proxy.nodes import NodeHops
from voip_core.proxy.ports import Authenticator, Location, RegistrarPort, Router
from voip_core.proxy.request_handler import RequestHandler
from voip_core.proxy.responses import response_destination
from voip_core.proxy.routing import FlowTokens
from voip_core.sip.message import Response
from voip_core.sip.peer import Peer
from voip_core.transaction import (
    AckReceived,
    Event,
    Outbound,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimeout,
    TransportErrorOccurred,
)

__all__ = ["CallRecord", "Proxy"]


class Proxy:
    """RFC 3261 §16 stateful, record-routing, forking proxy with a registrar attached."""

    def __init__(
        self,
        *,
        config: ProxyConfig,
        layer: TransactionLayer,
        location: Location,
        router: Router,
        authenticator: Authenticator,
        registrar: RegistrarPort,
        flow_secret: bytes,
        node_hops: NodeHops | None = None,
    ) -> None:
        if layer.sends_trying:
            # §16.6 / §8.2.7: the challenge to an unauthenticated INVITE is its only answer.
            raise ValueError(
                "the proxy sends 100 Trying itself when it forwards an INVITE: "
                "build its TransactionLayer with send_trying=False"
            )
        self.config = config
        self.layer = layer
        self.calls: dict[str, CallRecord] = {}
        self._contexts = ResponseContexts(config=config, layer=layer, calls=self.calls)
        self._requests = RequestHandler(
            config=config,
            layer=layer,
            location=location,
            router=router,
            authenticator=authenticator,
            registrar=registrar,
            tokens=FlowTokens(flow_secret),
            contexts=self._contexts,
            calls=self.calls,
            hops=node_hops,
        )
        self._outbox: list[Outbound] = []

    # -- engine interface -------------------------------------------------------------

    def handle_event(self, event: Event, now: float, wall: float) -> None:
        """Consume one transaction-layer event."""
        match event:
            case RequestReceived(key=key, request=request, source=source):
                self._requests.on_request(key, request, source, now, wall)
            case ResponseReceived(key=key, response=response):
                self._contexts.on_response(key, response, now, wall)
            case AckReceived(request=request, source=source):
                forwarded = self._requests.on_ack(request, source)
                if forwarded is not None:
                    self._outbox.append(forwarded)
            case StrayResponse(response=response, source=source):
                self._on_stray_response(response, source)
            case TransactionTimeout(key=key):
                self._contexts.on_branch_failure(key, 408, "Request Timeout", now, wall)
            case TransportErrorOccurred(key=key):
                self._contexts.on_branch_failure(
                    key, 503, "Service Unavailable (transport error)", now, wall
                )
            case TransactionTerminated(key=key):
                self._contexts.on_terminated(key, now)
            case _:
                assert_never(event)

    def messages_to_send(self) -> list[Outbound]:
        """Statelessly forwarded messages (ACK for 2xx, stray 2xx) since the last call."""
        out, self._outbox = self._outbox, []
        return out

    def next_timer(self) -> float | None:
        """Earliest Timer C deadline."""
        return self._contexts.next_timer()

    def handle_timer(self, now: float) -> None:
        """Fire expired Timer C instances (§16.8)."""
        self._contexts.handle_timer(now)

    @property
    def context_count(self) -> int:
        """Live response contexts (forwarded requests awaiting completion)."""
        return len(self._contexts)

    @property
    def call_outcomes(self) -> dict[str, int]:
        """Calls ended so far, by outcome (:mod:`voip_core.proxy.outcomes`)."""
        return self._contexts.call_outcomes.counts

    # -- stateless forwarding ---------------------------------------------------------

    def _on_stray_response(self, response: Response, source: Peer) -> None:
        """Forward a response that matched no transaction (a 2xx retransmission) (§16.7)."""
        vias = response.vias()
        ours = {address.host_port.lower() for address in self.config.listen}
        if len(vias) < 2 or vias[0].sent_by not in ours:
            return  # §16.7 / §18.2.2: not ours, or nothing left to forward to: drop
        if not 200 <= response.status_code < 300 or response.cseq().method != "INVITE":
            return
        upstream = response.pop_first_value("via")
        self._outbox.append(
            Outbound(upstream, response_destination(vias[1], None, force_rport=False))
        )

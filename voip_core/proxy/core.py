"""The stateful proxy: the transaction user that ties validation, routing and forking together.

Theory of operation: the node adapter feeds every transaction-layer event to
:meth:`Proxy.handle_event`. A new request goes through one function per RFC 3261 §16 step:
:func:`validate_request` (§16.3), :func:`preprocess_route` (§16.4), :meth:`_determine_targets`
(§16.5, via the numbering plan and the location service), :func:`forward_request` (§16.6) once
per target, each in its own client transaction. Responses come back per branch into a
:class:`_Context` (the §16.7 response context), which forwards provisional and 2xx responses
at once and the best final response when every branch has completed, cancelling the other
branches (§16.7 step 10, §16.10). ACKs for 2xx and stray 2xx retransmissions are forwarded
statelessly. The proxy never touches media.

All interaction with the outside happens through the transaction layer (which queues what to
send) and :meth:`messages_to_send` for the stateless forwards; time is passed in as ``now``
(monotonic, for timers) and ``wall`` (epoch seconds, for registrations and call records).
"""

from __future__ import annotations

import hashlib
import heapq
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dialplan.engine import CallerContext, ConferenceRoom, ExternalRoute, LocalExtension, Reject
from voip_core.proxy.config import ProxyConfig
from voip_core.proxy.forwarding import (
    RECORD_ROUTED_METHODS,
    Target,
    check_loop,
    forward_request,
    loop_hash,
    make_branch,
)
from voip_core.proxy.ports import Authenticated, Authenticator, Location, RegistrarPort, Router
from voip_core.proxy.responses import choose_best_response, response_destination
from voip_core.proxy.routing import (
    FlowTokens,
    RouteResult,
    is_local_uri,
    peer_for_uri,
    preprocess_route,
)
from voip_core.proxy.validation import BadExtension, check_require, validate_request
from voip_core.sip.exceptions import ProtocolError, RemoteProtocolError
from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri, TelUri
from voip_core.sip.via import MAGIC_COOKIE
from voip_core.transaction import (
    AckReceived,
    ClientKey,
    Event,
    Outbound,
    RequestReceived,
    ResponseReceived,
    ServerKey,
    StrayResponse,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    TransactionTimeout,
    TransportErrorOccurred,
)

__all__ = ["CallRecord", "Proxy"]

logger = logging.getLogger(__name__)

_ALLOW = (
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO, REFER, NOTIFY, "
    "SUBSCRIBE, MESSAGE"
)
#: Methods that need credentials when they start something new (not ACK, CANCEL, in-dialog).
_AUTHENTICATED_METHODS = frozenset(
    {"INVITE", "MESSAGE", "SUBSCRIBE", "REFER", "OPTIONS", "PUBLISH", "NOTIFY"}
)
#: Server INVITE states in which the transaction itself sends a 2xx (RFC 6026).
_TAKES_2XX = frozenset(
    {TransactionState.PROCEEDING, TransactionState.ACCEPTED, TransactionState.TRYING}
)
#: Bound on live call records kept for the admin view; older ones are evicted first.
_MAX_CALL_RECORDS = 200_000


@dataclass(slots=True)
class CallRecord:
    """An established or ringing call, for the live view of calls."""

    call_id: str
    caller: str
    callee: str
    state: str
    started_at: float
    callee_flow: Peer | None = None
    """Where the answering branch went: ACKs of UAs that ignore Record-Route follow it."""


@dataclass(slots=True)
class _Branch:
    key: ClientKey
    target: Target
    provisional: bool = False
    final: Response | None = None


@dataclass(slots=True)
class _Context:
    """RFC 3261 §16.7 response context of one forwarded request."""

    server_key: ServerKey
    request: Request
    source: Peer
    caller: str
    callee: str
    branches: dict[ClientKey, _Branch] = field(default_factory=dict)
    responses: list[Response] = field(default_factory=list)
    final_sent: bool = False
    timer_c: float | None = None

    @property
    def is_invite(self) -> bool:
        return self.request.method == "INVITE"

    def pending(self) -> list[_Branch]:
        return [branch for branch in self.branches.values() if branch.final is None]


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
    ) -> None:
        self.config = config
        self.layer = layer
        self._location = location
        self._router = router
        self._authenticator = authenticator
        self._registrar = registrar
        self._tokens = FlowTokens(flow_secret)
        self._contexts: dict[ServerKey, _Context] = {}
        self._by_client: dict[ClientKey, _Context] = {}
        self._timers: list[tuple[float, int, ServerKey]] = []
        self._timer_seq = 0
        self._outbox: list[Outbound] = []
        self.calls: dict[str, CallRecord] = {}

    # -- engine interface -------------------------------------------------------------

    def handle_event(self, event: Event, now: float, wall: float) -> None:
        """Consume one transaction-layer event."""
        match event:
            case RequestReceived(key=key, request=request, source=source):
                self._on_request(key, request, source, now, wall)
            case ResponseReceived(key=key, response=response):
                self._on_response(key, response, now, wall)
            case AckReceived(request=request, source=source):
                self._on_ack(request, source)
            case StrayResponse(response=response, source=source):
                self._on_stray_response(response, source)
            case TransactionTimeout(key=key):
                self._on_branch_failure(key, 408, "Request Timeout", now, wall)
            case TransportErrorOccurred(key=key):
                self._on_branch_failure(
                    key, 503, "Service Unavailable (transport error)", now, wall
                )
            case TransactionTerminated(key=key):
                self._on_terminated(key, now)

    def messages_to_send(self) -> list[Outbound]:
        """Statelessly forwarded messages (ACK for 2xx, stray 2xx) since the last call."""
        out, self._outbox = self._outbox, []
        return out

    def next_timer(self) -> float | None:
        """Earliest Timer C deadline."""
        while self._timers:
            deadline, _, key = self._timers[0]
            context = self._contexts.get(key)
            if context is not None and context.timer_c == deadline:
                return deadline
            heapq.heappop(self._timers)
        return None

    def handle_timer(self, now: float) -> None:
        """Fire expired Timer C instances (§16.8)."""
        while self._timers and self._timers[0][0] <= now:
            deadline, _, key = heapq.heappop(self._timers)
            context = self._contexts.get(key)
            if context is None or context.timer_c != deadline:
                continue
            context.timer_c = None
            for branch in context.pending():
                if branch.provisional:
                    self.layer.cancel_client(branch.key, now)
                else:
                    self._branch_final(
                        context, branch, self._synthesize(context, 408, "Request Timeout"), now
                    )

    @property
    def context_count(self) -> int:
        """Live response contexts (forwarded requests awaiting completion)."""
        return len(self._contexts)

    # -- requests ---------------------------------------------------------------------

    def _on_request(
        self, key: ServerKey, request: Request, source: Peer, now: float, wall: float
    ) -> None:
        try:
            validate_request(request, proxy_supported=self.config.proxy_supported)
            if request.method == "CANCEL":
                self._on_cancel(key, request, now)
                return
            routed = preprocess_route(request, self.config, self._tokens)
            if request.to().tag is not None and routed.removed:
                self._forward_in_dialog(key, routed, source, now)
                return
            if request.to().tag is not None and not is_local_uri(routed.request.uri, self.config):
                self._reply(key, request, 481, "Call/Transaction Does Not Exist", now)
                return
            self._initial_request(key, routed, source, now, wall)
        except BadExtension as error:
            self._reply(
                key,
                request,
                420,
                error.reason,
                now,
                headers=(("Unsupported", ", ".join(error.unsupported)),),
            )
        except ProtocolError as error:
            self._reply(key, request, error.status_code, error.reason, now)

    def _initial_request(
        self, key: ServerKey, routed: RouteResult, source: Peer, now: float, wall: float
    ) -> None:
        request = routed.request
        check_loop(request, self.config)
        uri = request.uri
        local = is_local_uri(uri, self.config)
        if request.method == "REGISTER":
            if not local:
                self._reply(
                    key, request, 403, f"Forbidden (domain {_host(uri)} not served here)", now
                )
                return
            check_require(request, supported=self.config.supported)
            self.layer.send_response(
                key, self._registrar.register(request, source=source, now=wall), now
            )
            return
        # §11 / §16.3 step 3: OPTIONS for us, or one that may not travel further, is ours.
        if request.method == "OPTIONS" and (
            (local and (not isinstance(uri, SipUri) or not uri.user))
            or request.header("max-forwards") == "0"
        ):
            check_require(request, supported=self.config.supported)
            self._reply(
                key,
                request,
                200,
                "OK",
                now,
                headers=(
                    ("Allow", _ALLOW),
                    ("Accept", "application/sdp"),
                    ("Supported", ", ".join(sorted(self.config.supported))),
                ),
            )
            return
        if not local and not request.header("route"):
            self._reply(key, request, 403, f"Forbidden (relaying to {_host(uri)} denied)", now)
            return
        if request.method == "ACK":
            return  # an ACK that matched no transaction and no dialog route: nothing to do
        caller = self._identify_caller(key, request, source, wall, now)
        if caller is None:
            return  # challenged
        if request.header("route"):
            # A preloaded route that is not ours (§16.4): follow it for known callers.
            top = request.routes()[0].sip_uri
            self._fork(key, request, source, [Target(uri, peer_for_uri(top))], caller, now, wall)
            return
        if isinstance(uri, SipUri) and (uri.param("gr") is not None):
            contacts = self._location.lookup_gruu(uri, wall)
            if contacts is not None:
                if not contacts:
                    self._reply(
                        key, request, 480, "Temporarily Unavailable (GRUU not registered)", now
                    )
                    return
                targets = [Target(c.uri, c.destination, c.path) for c in contacts[:1]]
                self._fork(key, request, source, targets, caller, now, wall)
                return
        self._route_by_plan(key, request, source, caller, now, wall)

    def _identify_caller(
        self, key: ServerKey, request: Request, source: Peer, wall: float, now: float
    ) -> CallerContext | None:
        from_uri = request.from_().uri
        from_user = from_uri.user_unescaped if isinstance(from_uri, SipUri) else None
        if self.config.is_trusted(source.host) or not self.config.require_authentication:
            return CallerContext(extension=from_user)
        if request.method not in _AUTHENTICATED_METHODS:
            return CallerContext(extension=None)
        outcome = self._authenticator.authenticate(request, proxy=True, now=wall)
        if isinstance(outcome, Authenticated):
            return CallerContext(extension=outcome.username)
        self._reply(key, request, outcome.status_code, outcome.reason, now, headers=outcome.headers)
        return None

    def _route_by_plan(
        self,
        key: ServerKey,
        request: Request,
        source: Peer,
        caller: CallerContext,
        now: float,
        wall: float,
    ) -> None:
        uri = request.uri
        if isinstance(uri, TelUri):
            dialed = uri.number
        elif isinstance(uri, SipUri) and uri.user:
            dialed = uri.user_unescaped or ""
        else:
            self._reply(key, request, 404, "Not Found (no user in Request-URI)", now)
            return
        decision = self._router.route(dialed, caller, datetime.fromtimestamp(wall, UTC))
        match decision:
            case LocalExtension(extension=extension):
                aor = f"sip:{extension.number}@{self.config.domain.lower()}"
                contacts = self._location.lookup(aor, wall)
                if not contacts:
                    self._reply(
                        key,
                        request,
                        480,
                        f"Temporarily Unavailable (extension {extension.number} not registered)",
                        now,
                    )
                    return
                targets = [Target(c.uri, c.destination, c.path) for c in contacts]
                self._fork(
                    key, request, source, targets, caller, now, wall, callee=extension.number
                )
            case ExternalRoute(trunk=trunk, number=number):
                target_uri = SipUri(scheme="sip", user=number, host=trunk.host, port=trunk.port)
                destination = peer_for_uri(target_uri, default_transport=trunk.transport)
                self._fork(
                    key,
                    request,
                    source,
                    [Target(target_uri, destination)],
                    caller,
                    now,
                    wall,
                    callee=number,
                )
            case ConferenceRoom(room=room):
                self._reply(
                    key,
                    request,
                    480,
                    f"Temporarily Unavailable (conference room {room} is not in service)",
                    now,
                )
            case Reject(status_code=status_code, reason=reason):
                self._reply(key, request, status_code, reason, now)

    def _fork(
        self,
        key: ServerKey,
        request: Request,
        source: Peer,
        targets: list[Target],
        caller: CallerContext,
        now: float,
        wall: float,
        *,
        callee: str = "",
        initial: bool = True,
    ) -> None:
        """§16.6 for each target in parallel; §16.7 collects the responses."""
        upstream = _stamp_via(request, source)
        context = _Context(
            server_key=key,
            request=upstream,
            source=source,
            caller=caller.extension or "",
            callee=callee,
        )
        self._contexts[key] = context
        loop = loop_hash(request)
        # The whole server key: two requests may carry one branch from two sent-by
        # addresses (§17.2.3), and each needs client transactions of its own.
        unique = "|".join(key)
        # Only dialog-creating requests record-route; in-dialog requests follow the route set.
        record_route = (
            initial and self.config.record_route and request.method in RECORD_ROUTED_METHODS
        )
        for index, target in enumerate(targets):
            branch = make_branch(loop, unique, index)
            forwarded = forward_request(
                upstream,
                target,
                config=self.config,
                tokens=self._tokens,
                source=source,
                branch=branch,
                record_route=record_route,
            )
            client_key = self.layer.start_client(forwarded, target.destination, now)
            context.branches[client_key] = _Branch(client_key, target)
            self._by_client[client_key] = context
        if context.is_invite:
            self._arm_timer_c(context, now)
            if callee:
                self._track_call(context, "ringing", wall)

    def _forward_in_dialog(
        self, key: ServerKey, routed: RouteResult, source: Peer, now: float
    ) -> None:
        request = routed.request
        if request.max_forwards() == 0:
            # §16.3 step 3: validate_request let this OPTIONS through; it must not go on.
            self._reply(key, request, 483, "Too Many Hops", now)
            return
        if routed.flow is not None:
            destination = routed.flow
        elif request.header("route"):
            destination = peer_for_uri(request.routes()[0].sip_uri)
        elif isinstance(request.uri, SipUri):
            destination = peer_for_uri(request.uri)
        else:
            self._reply(key, request, 416, "Unsupported URI Scheme", now)
            return
        if request.method == "BYE":
            self.calls.pop(request.call_id, None)
        context_targets = [Target(request.uri, destination)]
        caller = CallerContext(extension=None)
        self._fork(key, request, source, context_targets, caller, now, 0.0, initial=False)

    def _on_cancel(self, key: ServerKey, cancel: Request, now: float) -> None:
        """RFC 3261 §16.10."""
        invite_key = self.layer.find_invite_server(cancel)
        if invite_key is None:
            self._reply(key, cancel, 481, "Call/Transaction Does Not Exist", now)
            return
        # §9.2: a CANCEL that matches a transaction gets 200, even one we answered ourselves.
        self._reply(key, cancel, 200, "OK", now)
        context = self._contexts.get(invite_key)
        for branch in context.pending() if context is not None else ():
            self.layer.cancel_client(branch.key, now)

    def _on_ack(self, request: Request, source: Peer) -> None:
        """Forward an ACK for a 2xx statelessly along the dialog route (§16.11)."""
        try:
            routed = preprocess_route(request, self.config, self._tokens)
            ack = routed.request
            record = self.calls.get(ack.call_id)
            if not routed.removed:
                # A UA that ignored our Record-Route (SIPp's built-in uac does) sends the
                # ACK for the 2xx straight to us; the call record knows the answering flow.
                # Otherwise it acknowledges a response we generated: nothing to forward.
                if record is None or record.callee_flow is None or source == record.callee_flow:
                    return
                destination = record.callee_flow
            elif routed.flow is not None:
                destination = routed.flow
            elif ack.header("route"):
                destination = peer_for_uri(ack.routes()[0].sip_uri)  # 416 unless SIP
            elif isinstance(ack.uri, SipUri):
                destination = peer_for_uri(ack.uri)
            else:
                return
        except RemoteProtocolError as error:
            logger.info("dropping ACK with bad Route: %s", error)
            return
        max_forwards = ack.header("max-forwards")
        if max_forwards is not None and int(max_forwards) <= 0:
            return
        value = self.config.default_max_forwards if max_forwards is None else int(max_forwards) - 1
        incoming = ack.vias()[0].branch or ack.call_id
        # Deterministic branch: a retransmitted ACK gets the same one (§16.11).
        branch = (
            MAGIC_COOKIE
            + hashlib.blake2b(
                incoming.encode("utf-8", "surrogateescape"), digest_size=10
            ).hexdigest()
        )
        outgoing = self.config.listen_for(destination.transport, ":" in destination.host)
        via = f"SIP/2.0/{outgoing.transport.upper()} {outgoing.host_port};branch={branch}"
        forwarded = (
            _stamp_via(ack, source).set_header("Max-Forwards", str(value)).prepend("Via", via)
        )
        self._outbox.append(Outbound(forwarded, destination))

    # -- responses ------------------------------------------------------------------

    def _on_response(self, key: ClientKey, response: Response, now: float, wall: float) -> None:
        context = self._by_client.get(key)
        if context is None:
            return  # response to a CANCEL we sent, or to a finished context
        branch = context.branches[key]
        upstream = response.pop_first_value("via")
        code = response.status_code
        if code < 200:
            # §16.8: Timer C cancels a branch that heard any provisional, 100 included.
            branch.provisional = True
            if code == 100:
                return  # §16.7 step 5: 100 Trying is not forwarded
            if context.is_invite:
                self._arm_timer_c(context, now)  # §16.7 step 2
            if not context.final_sent:
                self.layer.send_response(context.server_key, upstream, now)
            return
        if 200 <= code < 300:
            branch.final = upstream
            if context.is_invite or not context.final_sent:
                # §16.7 step 5: after the final response only a 2xx to INVITE goes on.
                self._send_2xx(context, upstream, now)
            first = not context.final_sent
            context.final_sent = True
            if context.is_invite:
                # §16.7 step 10: a 2xx ends the search; cancel the others.
                for other in context.pending():
                    self.layer.cancel_client(other.key, now)
                if first and context.callee:
                    self._track_call(context, "confirmed", wall, branch.target.destination)
            elif context.request.method == "BYE":
                self.calls.pop(context.request.call_id, None)
            self._maybe_finish(context)
            return
        self._branch_final(context, branch, upstream, now)

    def _send_2xx(self, context: _Context, response: Response, now: float) -> None:
        """Forward a 2xx upstream (§16.7 step 5: every 2xx, even after another final).

        The server transaction takes it while it is Proceeding or Accepted (RFC 6026); a
        2xx that follows a non-2xx final, or outlives the transaction, goes statelessly to
        where the request came from.
        """
        key = context.server_key
        if key in self.layer and self.layer.server_state(key) in _TAKES_2XX:
            self.layer.send_response(key, response, now)
        else:
            self.layer.send_stateless(response, context.source)

    def _branch_final(
        self, context: _Context, branch: _Branch, upstream: Response, now: float
    ) -> None:
        branch.final = upstream
        context.responses.append(upstream)
        if upstream.status_code >= 600 and context.is_invite:
            for other in context.pending():
                self.layer.cancel_client(other.key, now)
        if not context.pending() and not context.final_sent:
            best = choose_best_response(context.responses) or self._synthesize(
                context, 408, "Request Timeout"
            )
            if best.status_code == 503:
                # §16.7 step 6: a 503 from downstream must not make the caller think we are down.
                best = self._synthesize(
                    context, 500, "Server Internal Error (downstream unavailable)"
                )
            if best.status_code in (401, 407):
                best = _merge_challenges(best, context.responses)
            context.final_sent = True
            self.layer.send_response(context.server_key, best, now)
            if context.callee:
                self.calls.pop(context.request.call_id, None)
        self._maybe_finish(context)

    def _on_branch_failure(
        self, key: ClientKey | ServerKey, code: int, reason: str, now: float, wall: float
    ) -> None:
        context = self._by_client.get(key)  # type: ignore[arg-type]  # server keys never match
        if context is None:
            return
        branch = context.branches[key]  # type: ignore[index]
        if branch.final is None:
            self._branch_final(context, branch, self._synthesize(context, code, reason), now)

    def _on_terminated(self, key: ClientKey | ServerKey, now: float) -> None:
        context = self._by_client.pop(key, None)  # type: ignore[arg-type]
        if context is not None:
            context.branches.pop(key, None)  # type: ignore[arg-type]
            self._maybe_finish(context)
        server_context = self._contexts.pop(key, None)  # type: ignore[arg-type]
        if server_context is not None:
            # Nothing more can go through the server transaction (Timer L, or the caller's
            # flow failed while ringing). Its pending branches are cancelled; the context
            # stays with them in _by_client until they end, so that a late 2xx is still
            # forwarded, statelessly (§16.7 step 5).
            if not server_context.final_sent and server_context.callee:
                self.calls.pop(server_context.request.call_id, None)
            server_context.final_sent = True
            server_context.timer_c = None
            if server_context.is_invite:
                for branch in server_context.pending():
                    self.layer.cancel_client(branch.key, now)

    def _maybe_finish(self, context: _Context) -> None:
        if context.final_sent and not context.pending():
            context.timer_c = None

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

    # -- helpers ----------------------------------------------------------------------

    def _reply(
        self,
        key: ServerKey,
        request: Request,
        code: int,
        reason: str | None,
        now: float,
        *,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        tag = hashlib.blake2b(
            f"{request.call_id}|{key}".encode("utf-8", "surrogateescape"), digest_size=6
        ).hexdigest()
        response = make_response(
            request,
            code,
            reason,
            to_tag=tag,
            headers=(*headers, ("Server", self.config.user_agent)),
        )
        self.layer.send_response(key, response, now)

    def _synthesize(self, context: _Context, code: int, reason: str) -> Response:
        tag = hashlib.blake2b(
            context.request.call_id.encode("utf-8", "surrogateescape"), digest_size=6
        ).hexdigest()
        return make_response(
            context.request, code, reason, to_tag=tag, headers=(("Server", self.config.user_agent),)
        )

    def _arm_timer_c(self, context: _Context, now: float) -> None:
        deadline = now + self.config.timer_c
        context.timer_c = deadline
        self._timer_seq += 1
        heapq.heappush(self._timers, (deadline, self._timer_seq, context.server_key))

    def _track_call(
        self, context: _Context, state: str, wall: float, callee_flow: Peer | None = None
    ) -> None:
        call_id = context.request.call_id
        record = self.calls.get(call_id)
        if record is None:
            if len(self.calls) >= _MAX_CALL_RECORDS:
                self.calls.pop(next(iter(self.calls)))
            record = CallRecord(call_id, context.caller, context.callee, state, wall)
            self.calls[call_id] = record
        record.state = state
        if callee_flow is not None:
            record.callee_flow = callee_flow


def _stamp_via(request: Request, source: Peer) -> Request:
    """RFC 3261 §18.2.1 / RFC 3581 §4: note where the request really came from."""
    top = request.vias()[0]
    stamped = top
    if top.host.strip("[]").lower() != source.host.lower():
        stamped = stamped.with_param("received", source.host)
    if top.wants_rport or source.transport != "udp":
        stamped = stamped.with_param("rport", str(source.port))
    if stamped is top:
        return request
    return request.pop_first_value("via").insert_first("Via", str(stamped))


def _merge_challenges(best: Response, responses: list[Response]) -> Response:
    """§16.7 step 7: collect every WWW-/Proxy-Authenticate of the 401/407 responses."""
    merged = best
    for response in responses:
        if response is best or response.status_code not in (401, 407):
            continue
        for name in ("WWW-Authenticate", "Proxy-Authenticate"):
            for value in response.header_lines(name):
                merged = merged.append(name, value)
    return merged


def _host(uri: object) -> str:
    return uri.host if isinstance(uri, SipUri) else str(uri)

"""The request side of the stateful proxy: what becomes of each request that reaches it.

Theory of operation: :meth:`RequestHandler.on_request` runs the RFC 3261 §16 steps in
order, one function each, and dispatches on the decision each returns:

1. :func:`~voip_core.proxy.validation.validate_request` (§16.3 steps 1-5): 505, 416,
   483, 482, 420 are raised as errors; an out-of-dialog OPTIONS at Max-Forwards 0 is
   answered here as a UAS (§11). A CANCEL is then answered and cancels the pending
   branches of the INVITE it matches (§16.10).
2. :func:`~voip_core.proxy.routing.preprocess_route` (§16.4) removes our own Route
   entries.
3. :meth:`RequestHandler._admit` decides what is ours to answer: a REGISTER goes to the
   registrar, an OPTIONS for the proxy itself is answered, relaying to a domain we do not
   serve is refused, and :meth:`RequestHandler._authorize` (§16.3 step 6) checks the
   credentials of an initial request. A challenge or refusal is sent statelessly, for
   every method (§8.2.7, §16.6): no transaction is kept and nothing is retransmitted for
   a request without valid credentials, since anyone can send one from any address; a
   retransmission is challenged afresh, and the ACK of a challenged INVITE, which carries
   our derived To tag, is absorbed (:meth:`RequestHandler.on_ack`).
4. :func:`~voip_core.proxy.targets.determine_targets` (§16.5) decides the targets, or a
   reply.
5. :meth:`RequestHandler._forward` (§16.6) sends 100 Trying for an INVITE and starts one
   client transaction per target of the first target set, built by
   :func:`~voip_core.proxy.forwarding.forward_request`, inside a response context
   (:mod:`voip_core.proxy.context`), which handles everything that comes back (§16.7).

An ACK for a 2xx is forwarded statelessly along the dialog route with a deterministic
branch (§16.11); :meth:`RequestHandler.on_ack` returns it for the proxy to send. Every
other request is answered, if at all, through its server transaction; protocol errors
become their status codes (420 with ``Unsupported``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import assert_never

from dialplan.engine import CallerContext
from voip_core.proxy.config import ProxyConfig
from voip_core.proxy.context import CallRecord, ResponseContexts
from voip_core.proxy.forwarding import (
    RECORD_ROUTED_METHODS,
    forward_request,
    loop_hash,
    make_branch,
    next_max_forwards,
)
from voip_core.proxy.nodes import NodeHops, with_node_hop
from voip_core.proxy.ports import Authenticated, Authenticator, Location, RegistrarPort, Router
from voip_core.proxy.responses import derived_to_tag
from voip_core.proxy.routing import (
    FlowTokens,
    RouteResult,
    is_local_uri,
    peer_for_uri,
    preprocess_route,
)
from voip_core.proxy.targets import Reply, Targets, determine_targets, follows_dialog_route
from voip_core.proxy.validation import BadExtension, Validation, check_require, validate_request
from voip_core.sip.exceptions import LocalProtocolError, ProtocolError
from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri
from voip_core.sip.via import MAGIC_COOKIE
from voip_core.transaction import Outbound, ServerKey, TransactionLayer

__all__ = ["RequestHandler"]

logger = logging.getLogger(__name__)

_ALLOW = (
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO, REFER, NOTIFY, "
    "SUBSCRIBE, MESSAGE"
)
#: Methods that need credentials when they start something new (not ACK, CANCEL, in-dialog).
_AUTHENTICATED_METHODS = frozenset(
    {"INVITE", "MESSAGE", "SUBSCRIBE", "REFER", "OPTIONS", "PUBLISH", "NOTIFY"}
)
#: Registrar answers sent without a transaction: its challenge and its refusal of a
#: blocked source (§8.2.7), half of every registration and anyone's to provoke.
_STATELESS_REGISTER_ANSWERS = frozenset({401, 403})
#: Who an in-dialog request or an unauthenticated method's sender is to the plan.
_ANONYMOUS = CallerContext(extension=None)


@dataclass(frozen=True, slots=True)
class _Answer:
    """A response built elsewhere (the registrar's) to send as it is."""

    response: Response
    stateless: bool


@dataclass(frozen=True, slots=True)
class _Drop:
    """Nothing to send: an ACK that matched no transaction and no dialog route."""


#: What becomes of a request after §16.5.
_Decision = Targets | Reply | _Answer | _Drop


class RequestHandler:
    """The proxy's request side (RFC 3261 §16.3-§16.6, §16.10, §16.11).

    ``contexts`` receives the forwarded requests' responses; ``calls`` is the proxy's
    table of call records, shared with it.
    """

    def __init__(
        self,
        *,
        config: ProxyConfig,
        layer: TransactionLayer,
        location: Location,
        router: Router,
        authenticator: Authenticator,
        registrar: RegistrarPort,
        tokens: FlowTokens,
        contexts: ResponseContexts,
        calls: dict[str, CallRecord],
        hops: NodeHops | None = None,
    ) -> None:
        self._config = config
        #: This cluster node's hops (:mod:`voip_core.proxy.nodes`), ``None`` alone.
        self._hops = hops
        self._layer = layer
        self._location = location
        self._router = router
        self._authenticator = authenticator
        self._registrar = registrar
        self._tokens = tokens
        self._contexts = contexts
        self._calls = calls

    # -- requests ---------------------------------------------------------------------

    def on_request(
        self, key: ServerKey, request: Request, source: Peer, now: float, wall: float
    ) -> None:
        """Answer, forward or drop a request received on the server transaction ``key``."""
        try:
            validation = validate_request(request, self._config)  # §16.3 steps 1-5
            match validation:
                case Validation.ANSWER_OPTIONS:
                    self._answer_options(key, request, now)
                    return
                case Validation.PROCEED:
                    pass
                case _:
                    assert_never(validation)
            if request.method == "CANCEL":
                self._on_cancel(key, request, now)  # §16.10
                return
            routed = preprocess_route(request, self._config, self._tokens)  # §16.4
            routed = with_node_hop(routed, request, self._config, self._hops)
            admission = self._admit(routed, source, wall)  # ours to answer; §16.3 step 6
            decision: _Decision
            match admission:
                case CallerContext():
                    decision = self._determine_targets(routed, admission, wall)  # §16.5
                    caller = admission
                case Reply() | _Answer() | _Drop():
                    decision, caller = admission, _ANONYMOUS
                case _:
                    assert_never(admission)
            match decision:
                case Targets():  # §16.6
                    self._forward(key, request, routed, source, decision, caller, now, wall)
                case Reply():
                    self._reply(key, routed.request, decision, now)
                case _Answer(response=response, stateless=stateless):
                    self._layer.send_response(key, response, now, stateless=stateless)
                case _Drop():
                    pass
                case _:
                    assert_never(decision)
        except BadExtension as error:
            unsupported = (("Unsupported", ", ".join(error.unsupported)),)
            self._reply(key, request, Reply(420, error.reason, unsupported), now)
        except ProtocolError as error:
            self._reply(key, request, Reply(error.status_code, error.reason), now)

    def _admit(
        self, routed: RouteResult, source: Peer, wall: float
    ) -> CallerContext | Reply | _Answer | _Drop:
        """What of ``routed`` is ours to answer, and who sends the rest (§16.3 step 6)."""
        request = routed.request
        if routed.node_flow is not None:
            return _ANONYMOUS  # the node that sent it through our hop admitted the caller
        if (
            follows_dialog_route(routed)
            or request.to().tag is not None
            and not is_local_uri(request.uri, self._config)
        ):
            return _ANONYMOUS  # inside a dialog: its route set, or 481 (§16.5)
        uri = request.uri
        local = is_local_uri(uri, self._config)
        if request.method == "REGISTER":
            if not local:
                return Reply(403, f"Forbidden (domain {_host(uri)} not served here)")
            check_require(request, supported=self._config.supported)
            response = self._registrar.register(request, source=source, now=wall)
            # §8.2.7: a retransmitted REGISTER just gets a fresh challenge.
            stateless = response.status_code in _STATELESS_REGISTER_ANSWERS
            return _Answer(response, stateless=stateless)
        if request.method == "OPTIONS" and local and (not isinstance(uri, SipUri) or not uri.user):
            return self._options_reply(request)  # §11: an OPTIONS for us
        if not local and not request.header("route"):
            return Reply(403, f"Forbidden (relaying to {_host(uri)} denied)")
        if request.method == "ACK":
            return _Drop()
        return self._authorize(request, source, wall)

    def _authorize(self, request: Request, source: Peer, wall: float) -> CallerContext | Reply:
        """§16.3 step 6 (§22.3): who the caller is, or the challenge or refusal to send.

        Sent statelessly for every method (§8.2.7, §16.6): a request without valid
        credentials keeps no transaction and gets nothing retransmitted.
        """
        from_uri = request.from_().uri
        from_user = from_uri.user_unescaped if isinstance(from_uri, SipUri) else None
        if self._config.is_trusted(source.host) or not self._config.require_authentication:
            return CallerContext(extension=from_user)
        if request.method not in _AUTHENTICATED_METHODS:
            return _ANONYMOUS
        outcome = self._authenticator.authenticate(
            request, proxy=True, now=wall, source=source.host
        )
        if isinstance(outcome, Authenticated):
            return CallerContext(extension=outcome.username)
        return Reply(outcome.status_code, outcome.reason, outcome.headers, stateless=True)

    def _determine_targets(
        self, routed: RouteResult, caller: CallerContext, wall: float
    ) -> Targets | Reply:
        return determine_targets(
            routed,
            caller=caller,
            config=self._config,
            location=self._location,
            router=self._router,
            wall=wall,
        )

    def _forward(
        self,
        key: ServerKey,
        received: Request,
        routed: RouteResult,
        source: Peer,
        targets: Targets,
        caller: CallerContext,
        now: float,
        wall: float,
    ) -> None:
        """§16.6 for each target of the set in parallel; §16.7 collects the responses.

        ``received`` is the request as it arrived: its loop hash goes into every branch
        (§16.6 step 8), as :func:`~voip_core.proxy.validation.validate_request` checks it.
        """
        request = routed.request
        if len(targets.sets) != 1:
            # See voip_core.proxy.targets: serial target sets need the response context
            # to start the next set; until then they must not be cut to the first.
            raise LocalProtocolError(
                f"{len(targets.sets)} target sets; serial forking is not supported yet",
                status_code=500,
                reason="Server Internal Error (serial forking not supported)",
            )
        if request.method == "INVITE":
            # §16.2 / §17.2.1: the search may take long; tell the caller it started.
            self._layer.send_response(key, make_response(request, 100), now)
        if targets.in_dialog and request.method == "BYE":
            self._calls.pop(request.call_id, None)
        upstream = _stamp_via(request, source)
        context = self._contexts.open(
            key, upstream, source, caller=caller.extension or "", callee=targets.callee
        )
        loop = loop_hash(received)
        # The whole server key: two requests may carry one branch from two sent-by
        # addresses (§17.2.3), and each needs client transactions of its own.
        unique = "|".join(key)
        # Only dialog-creating requests record-route; in-dialog requests follow the route set.
        record_route = (
            not targets.in_dialog
            and self._config.record_route
            and request.method in RECORD_ROUTED_METHODS
        )
        for index, target in enumerate(targets.sets[0]):
            branch = make_branch(loop, unique, index)
            forwarded = forward_request(
                upstream,
                target,
                config=self._config,
                tokens=self._tokens,
                source=source,
                branch=branch,
                record_route=record_route,
            )
            client_key = self._layer.start_client(forwarded, target.destination, now)
            self._contexts.add_branch(context, client_key, target)
        if context.is_invite:
            self._contexts.arm_timer_c(context, now)
            if targets.callee:
                self._contexts.track_call(context, "ringing", wall)

    def _answer_options(self, key: ServerKey, request: Request, now: float) -> None:
        """§16.3 step 3 / §11: an OPTIONS that may travel no further is answered by us."""
        self._reply(key, request, self._options_reply(request), now)

    def _options_reply(self, request: Request) -> Reply:
        check_require(request, supported=self._config.supported)
        return Reply(
            200,
            "OK",
            (
                ("Allow", _ALLOW),
                ("Accept", "application/sdp"),
                ("Supported", ", ".join(sorted(self._config.supported))),
            ),
        )

    def _on_cancel(self, key: ServerKey, cancel: Request, now: float) -> None:
        """RFC 3261 §16.10."""
        invite_key = self._layer.find_invite_server(cancel)
        if invite_key is None:
            self._reply(key, cancel, Reply(481, "Call/Transaction Does Not Exist"), now)
            return
        # §9.2: a CANCEL that matches a transaction gets 200, even one we answered ourselves.
        self._reply(key, cancel, Reply(200, "OK"), now)
        context = self._contexts.get(invite_key)
        for branch in context.pending() if context is not None else ():
            self._layer.cancel_client(branch.key, now)

    def on_ack(self, request: Request, source: Peer) -> Outbound | None:
        """Forward an ACK for a 2xx statelessly along the dialog route (§16.11).

        Returns the forwarded ACK for the caller to send, or ``None`` when it goes nowhere:
        the ACK of a response we sent statelessly (a challenge; it carries our derived To
        tag), one that may travel no further, or one with nowhere to go.
        """
        if request.to().tag == derived_to_tag(request.call_id):
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("absorbed ACK of our answer to %s", request.call_id)
            return None
        try:
            validate_request(request, self._config)  # §16.3; an ACK is never answered
            routed = preprocess_route(request, self._config, self._tokens)
            ack = routed.request
            record = self._calls.get(ack.call_id)
            if not routed.removed:
                # A UA that ignored our Record-Route (SIPp's built-in uac does) sends the
                # ACK for the 2xx straight to us; the call record knows the answering flow.
                # Otherwise it acknowledges a response we generated: nothing to forward.
                if record is None or record.callee_flow is None or source == record.callee_flow:
                    return None
                destination = record.callee_flow
            elif routed.flow is not None:
                destination = routed.flow
            elif ack.header("route"):
                destination = peer_for_uri(ack.routes()[0].sip_uri)  # 416 unless SIP
            elif isinstance(ack.uri, SipUri):
                destination = peer_for_uri(ack.uri)
            else:
                return None
        except ProtocolError as error:
            logger.info("dropping ACK: %s", error)
            return None
        incoming = ack.vias()[0].branch or ack.call_id
        # Deterministic branch: a retransmitted ACK gets the same one (§16.11).
        branch = (
            MAGIC_COOKIE
            + hashlib.blake2b(
                incoming.encode("utf-8", "surrogateescape"), digest_size=10
            ).hexdigest()
        )
        outgoing = self._config.listen_for(destination.transport, ":" in destination.host)
        via = f"SIP/2.0/{outgoing.transport.upper()} {outgoing.host_port};branch={branch}"
        forwarded = _stamp_via(ack, source).with_edits(
            replace=(("Max-Forwards", str(next_max_forwards(ack, self._config))),),
            prepend=(("Via", via),),
        )
        return Outbound(forwarded, destination)

    # -- helpers ----------------------------------------------------------------------

    def _reply(self, key: ServerKey, request: Request, reply: Reply, now: float) -> None:
        """Send ``reply`` to ``request``, the To tag derived so retransmissions match."""
        response = make_response(
            request,
            reply.status_code,
            reply.reason,
            to_tag=derived_to_tag(request.call_id),
            headers=(*reply.headers, ("Server", self._config.user_agent)),
        )
        self._layer.send_response(key, response, now, stateless=reply.stateless)


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
    return request.replace_first_value("Via", str(stamped))


def _host(uri: object) -> str:
    return uri.host if isinstance(uri, SipUri) else str(uri)

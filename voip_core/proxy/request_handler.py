"""The request side of the stateful proxy: what becomes of each request that reaches it.

Theory of operation: a request goes through one function per RFC 3261 §16 step.
:func:`validate_request` (§16.3) comes first; a CANCEL is then answered and cancels the
pending branches of the INVITE it matches (§16.10). :func:`preprocess_route` (§16.4)
removes our own Route entries: an in-dialog request (To tag) routed through us follows
its route set, and one that was not and is not for us gets 481. An initial request is, in
order: a REGISTER handed to the registrar; an OPTIONS for the proxy itself (or with
Max-Forwards 0) answered here (§11); refused with 403 when it would relay to a domain we
do not serve; authenticated with 407 when required; and sent to its targets (§16.5): the
preloaded Route, the contact of a GRUU, or what the numbering plan decides (a local
extension's registered contacts, a trunk, or a rejection). Forwarding (§16.6) starts one
client transaction per target, in parallel, inside a response context
(:mod:`voip_core.proxy.context`), which handles everything that comes back.

An ACK for a 2xx is forwarded statelessly along the dialog route with a deterministic
branch (§16.11); :meth:`RequestHandler.on_ack` returns it for the proxy to send. Every
other request is answered, if at all, through its server transaction; protocol errors
become their status codes (420 with ``Unsupported``).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from dialplan.engine import CallerContext, ConferenceRoom, ExternalRoute, LocalExtension, Reject
from voip_core.proxy.config import ProxyConfig
from voip_core.proxy.context import CallRecord, ResponseContexts
from voip_core.proxy.forwarding import (
    RECORD_ROUTED_METHODS,
    Target,
    check_loop,
    forward_request,
    loop_hash,
    make_branch,
)
from voip_core.proxy.ports import Authenticated, Authenticator, Location, RegistrarPort, Router
from voip_core.proxy.routing import (
    FlowTokens,
    RouteResult,
    is_local_uri,
    peer_for_uri,
    preprocess_route,
)
from voip_core.proxy.validation import BadExtension, check_require, validate_request
from voip_core.sip.exceptions import ProtocolError, RemoteProtocolError
from voip_core.sip.message import Request, make_response
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri, TelUri
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
    ) -> None:
        self._config = config
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
            validate_request(request, proxy_supported=self._config.proxy_supported)
            if request.method == "CANCEL":
                self._on_cancel(key, request, now)
                return
            routed = preprocess_route(request, self._config, self._tokens)
            if request.to().tag is not None and routed.removed:
                self._forward_in_dialog(key, routed, source, now)
                return
            if request.to().tag is not None and not is_local_uri(routed.request.uri, self._config):
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
        check_loop(request, self._config)
        uri = request.uri
        local = is_local_uri(uri, self._config)
        if request.method == "REGISTER":
            if not local:
                self._reply(
                    key, request, 403, f"Forbidden (domain {_host(uri)} not served here)", now
                )
                return
            check_require(request, supported=self._config.supported)
            response = self._registrar.register(request, source=source, now=wall)
            # RFC 3261 §8.2.7: the challenge is answered statelessly. It is half of every
            # registration, and over UDP its transaction would otherwise linger 32 s
            # (Timer J) for nothing: a retransmitted REGISTER just gets a fresh challenge.
            self._layer.send_response(key, response, now, stateless=response.status_code == 401)
            return
        # §11 / §16.3 step 3: OPTIONS for us, or one that may not travel further, is ours.
        if request.method == "OPTIONS" and (
            (local and (not isinstance(uri, SipUri) or not uri.user))
            or request.header("max-forwards") == "0"
        ):
            check_require(request, supported=self._config.supported)
            self._reply(
                key,
                request,
                200,
                "OK",
                now,
                headers=(
                    ("Allow", _ALLOW),
                    ("Accept", "application/sdp"),
                    ("Supported", ", ".join(sorted(self._config.supported))),
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
        if self._config.is_trusted(source.host) or not self._config.require_authentication:
            return CallerContext(extension=from_user)
        if request.method not in _AUTHENTICATED_METHODS:
            return CallerContext(extension=None)
        outcome = self._authenticator.authenticate(request, proxy=True, now=wall)
        if isinstance(outcome, Authenticated):
            return CallerContext(extension=outcome.username)
        # §8.2.7: challenge statelessly where the transaction allows it (not INVITE, whose
        # non-2xx final response is retransmitted until the ACK, §17.2.1)
        self._reply(
            key,
            request,
            outcome.status_code,
            outcome.reason,
            now,
            headers=outcome.headers,
            stateless=request.method != "INVITE",
        )
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
                aor = f"sip:{extension.number}@{self._config.domain.lower()}"
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
        context = self._contexts.open(
            key, upstream, source, caller=caller.extension or "", callee=callee
        )
        loop = loop_hash(request)
        # The whole server key: two requests may carry one branch from two sent-by
        # addresses (§17.2.3), and each needs client transactions of its own.
        unique = "|".join(key)
        # Only dialog-creating requests record-route; in-dialog requests follow the route set.
        record_route = (
            initial and self._config.record_route and request.method in RECORD_ROUTED_METHODS
        )
        for index, target in enumerate(targets):
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
            if callee:
                self._contexts.track_call(context, "ringing", wall)

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
            self._calls.pop(request.call_id, None)
        context_targets = [Target(request.uri, destination)]
        caller = CallerContext(extension=None)
        self._fork(key, request, source, context_targets, caller, now, 0.0, initial=False)

    def _on_cancel(self, key: ServerKey, cancel: Request, now: float) -> None:
        """RFC 3261 §16.10."""
        invite_key = self._layer.find_invite_server(cancel)
        if invite_key is None:
            self._reply(key, cancel, 481, "Call/Transaction Does Not Exist", now)
            return
        # §9.2: a CANCEL that matches a transaction gets 200, even one we answered ourselves.
        self._reply(key, cancel, 200, "OK", now)
        context = self._contexts.get(invite_key)
        for branch in context.pending() if context is not None else ():
            self._layer.cancel_client(branch.key, now)

    def on_ack(self, request: Request, source: Peer) -> Outbound | None:
        """Forward an ACK for a 2xx statelessly along the dialog route (§16.11).

        Returns the forwarded ACK for the caller to send, or ``None`` when it goes nowhere.
        """
        try:
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
        except RemoteProtocolError as error:
            logger.info("dropping ACK with bad Route: %s", error)
            return None
        max_forwards = ack.header("max-forwards")
        if max_forwards is not None and int(max_forwards) <= 0:
            return None
        value = self._config.default_max_forwards if max_forwards is None else int(max_forwards) - 1
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
            replace=(("Max-Forwards", str(value)),), prepend=(("Via", via),)
        )
        return Outbound(forwarded, destination)

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
        stateless: bool = False,
    ) -> None:
        tag = hashlib.blake2b(
            f"{request.call_id}|{key}".encode("utf-8", "surrogateescape"), digest_size=6
        ).hexdigest()
        response = make_response(
            request,
            code,
            reason,
            to_tag=tag,
            headers=(*headers, ("Server", self._config.user_agent)),
        )
        self._layer.send_response(key, response, now, stateless=stateless)


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

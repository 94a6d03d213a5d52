"""Route pre-processing (RFC 3261 §16.4), flow tokens and next-hop selection (§16.6 step 7).

Theory of operation: when the proxy record-routes a dialog it always inserts two
Record-Route entries (RFC 5658 double record-routing), one facing each side. Each entry's
user part is a *flow token* (RFC 5626 §5.3 style): the transport, address and connection
of that side, protected by an HMAC so nobody can make us send to a flow we never saw. A
request arriving inside the dialog carries both entries as Route headers; we remove every
leading Route that is ours, and the flow token of the *last* one we removed names the flow
toward the other side. That is how a phone registered over TCP, or behind NAT, is reached
in-dialog over the same connection even though its Contact names another port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from voip_core.proxy._tokens import flow_fields, open_token, parse_flow, remember, sign_token
from voip_core.proxy.config import ProxyConfig
from voip_core.sip.address import NameAddress, parse_name_addr
from voip_core.sip.exceptions import ParseError
from voip_core.sip.message import Request
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri, TelUri, Uri

__all__ = [
    "FlowTokens",
    "RouteResult",
    "is_local_uri",
    "peer_for_uri",
    "preprocess_route",
]

#: User-part prefix of a flow token.
_PREFIX: Final = "f-"
_TAG_BYTES: Final = 6
#: Longest token cached: an IPv6 flow with a connection id is about 90 characters.
_MAX_CACHED_TOKEN: Final = 128
_DEFAULT_PORTS: Final = {"udp": 5060, "tcp": 5060, "tls": 5061, "ws": 80, "wss": 443}


class FlowTokens:
    """Encode and verify flow tokens with a per-deployment secret.

    Both directions are pure functions of the secret, so their results are kept in
    bounded dictionaries (emptied when full, like the parsers' caches in
    ``voip_core/sip/_memo.py``): every dialog through the proxy encodes two tokens and
    decodes them again on each in-dialog request, and the flows repeat across calls.
    Only verified tokens are kept, so forged ones cannot fill the cache.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._encoded: dict[Peer, str] = {}
        self._decoded: dict[str, Peer] = {}

    def encode(self, peer: Peer) -> str:
        """A URI-safe token naming ``peer``'s flow."""
        token = self._encoded.get(peer)
        if token is None:
            token = self._encode(peer)
            remember(self._encoded, peer, token)
        return token

    def decode(self, token: str) -> Peer | None:
        """The flow named by ``token``, or ``None`` when it is not a valid token of ours."""
        peer = self._decoded.get(token)
        if peer is None:
            peer = self._decode(token)
            if peer is not None and len(token) <= _MAX_CACHED_TOKEN:
                remember(self._decoded, token, peer)
        return peer

    def _encode(self, peer: Peer) -> str:
        return sign_token(self._secret, _PREFIX, flow_fields(peer).encode(), _TAG_BYTES)

    def _decode(self, token: str) -> Peer | None:
        payload = open_token(self._secret, _PREFIX, token, _TAG_BYTES)
        if payload is None:
            return None
        try:
            transport, host, port, connection = payload.decode().split("|")
            return parse_flow(transport, host, port, connection)
        except ValueError:
            return None


def is_local_uri(uri: Uri, config: ProxyConfig) -> bool:
    """Whether ``uri`` designates this proxy's domain or one of its addresses."""
    if isinstance(uri, TelUri):
        return True  # a tel: number is routed through our numbering plan
    if not isinstance(uri, SipUri):
        return False
    if not config.is_local_host(uri.host):
        return False
    if uri.port is None:
        return True
    host = uri.host.strip("[]").lower()
    if host == config.domain.lower():
        return True
    return any(address.port == uri.port for address in config.listen)


@dataclass(frozen=True, slots=True)
class RouteResult:
    """The request after §16.4 and what our removed Route entries told us."""

    request: Request
    flow: Peer | None
    """The flow named by the last of our Route entries, if any."""
    removed: int
    """How many Route entries of ours were removed."""
    node_flow: Peer | None = None
    """The flow named by our cluster node hop when the first removed entry was one: the
    request comes from another node, for a flow we hold (:mod:`voip_core.proxy.nodes`)."""


def preprocess_route(request: Request, config: ProxyConfig, tokens: FlowTokens) -> RouteResult:
    """RFC 3261 §16.4: strip leading Route entries that are ours.

    Also undoes a strict-routing previous hop (§16.4 first paragraph): when the
    Request-URI is one of our own Record-Route values, the real Request-URI is the last
    Route entry.
    """
    flow: Peer | None = None
    removed = 0
    current = request
    if isinstance(request.uri, SipUri) and request.uri.user and request.uri.user.startswith("f-"):
        strict_flow = tokens.decode(request.uri.user)
        routes = request.header_values("route")
        if strict_flow is not None and routes and is_local_uri(request.uri, config):
            last = _parse_route(routes[-1])
            current = _drop_last_route(current).with_uri(last.uri)
            flow = strict_flow
    if current.header("route") is None:
        return RouteResult(request=current, flow=flow, removed=removed)
    for value in current.header_values("route"):
        top = _parse_route(value)
        if not isinstance(top.uri, SipUri) or not is_local_uri(top.uri, config):
            break
        if top.uri.user:
            decoded = tokens.decode(top.uri.user)
            if decoded is not None:
                flow = decoded
        removed += 1
    for _ in range(removed):
        # An empty Route line holds no element (§7.3.1): it goes with the entry after it.
        while not (current.header("route") or "").strip():
            current = current.pop_first_value("route")
        current = current.pop_first_value("route")
    return RouteResult(request=current, flow=flow, removed=removed)


def _parse_route(value: str) -> NameAddress:
    try:
        return parse_name_addr(value)
    except ParseError as error:
        raise ParseError(f"malformed Route {value!r}") from error


def _drop_last_route(request: Request) -> Request:
    values = request.header_values("route")[:-1]
    stripped = request.remove("route")
    for value in reversed(values):
        stripped = stripped.insert_first("Route", value)
    return stripped


def peer_for_uri(uri: SipUri, *, default_transport: str = "udp") -> Peer:
    """Next hop for a URI whose host is an IP address (RFC 3263 §4 without DNS).

    ``maddr`` overrides the host (§16.6 step 7 / §19.1.1); the ``transport`` parameter or
    the sips scheme choose the transport.
    """
    transport = uri.transport or ("tls" if uri.scheme == "sips" else default_transport)
    host = uri.param("maddr") or uri.host
    host = host.strip("[]")
    port = uri.port if uri.port is not None else _DEFAULT_PORTS.get(transport, 5060)
    return Peer(transport, host, port)

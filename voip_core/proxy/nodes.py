"""Node hops: reaching a flow that another node of the cluster holds (RFC 3327, RFC 5626 §5.3).

Theory of operation
-------------------
Several nodes (``ronghe serve`` processes on different hosts or ports) share the
registrations through Redis or one SQL database, but a flow lives in one node only: the
TCP connection a phone opened is a socket of the node that accepted it, and a UDP phone
behind NAT can be reached only from the address its pinhole was opened toward. So the
registrar of the node that stores a binding puts a *node hop* naming itself and the flow
in front of the binding's Path (RFC 3327 §5.3 records the route to the contact there):
``<sip:n-TOKEN@host:port;transport=tcp;lr>``. The 200 OK does not echo it: it is no
Path the REGISTER carried, and a phone holding one could have us forward requests to a
flow without authentication.

TOKEN is built like the Record-Route flow tokens of :class:`~voip_core.proxy.routing.FlowTokens`
(the flow's transport, address and connection, HMAC-protected), but under a key of its
own and with the ``n-`` prefix, and it also names the node. So a dialog's Record-Route
token cannot be replayed as a node hop, and one node's hop is not honoured by another.

A node that looks the contact up (:meth:`NodeHops.first_hop` of the binding's Path):

* finds its own hop: it reaches the flow directly, as without a cluster; the token's
  flow carries the connection id, which the shared stores drop and by which the worker
  holding the connection is found (``--workers``, :mod:`voip_core.cluster.router`);
* finds another node's: it sends the request to that node with the whole Path as its
  Route set (§16.6 step 6), as to any edge proxy. That node finds its own hop as the
  first Route entry (:func:`node_hop_flow`) and forwards the request on the flow,
  without authenticating the caller again or routing by the plan: the sending node did
  both, and only nodes hold the key. Both nodes record-route, so the dialog's requests
  travel the same way in both directions.

Failures: the holding node answers :data:`FLOW_FAILED` (430, RFC 5626 §5.3) when the
flow is gone, and the sending node answers 480 upstream both for that and for a node it
cannot reach (``Target.unreachable``), never the 500 that RFC 3261 §16.7 step 6 makes of
a transport error's 503 (the caller would take the whole service for broken, when one
node is, and the phone re-registers elsewhere). A hop node that does not answer at all
ends the branch with Timer B's 408.

The hop is recorded for UDP flows too: a phone behind NAT is reachable only through the
pinhole toward the node it registered with, and whether a NAT (with address-dependent
filtering, RFC 4787 §5) lies in between cannot be told from the REGISTER, since a phone
may put its STUN-learned public address in its Contact. Nodes talk to each other over
TCP: a request that crossed two proxies carries two Vias and four Record-Routes and may
no longer fit a datagram (RFC 3261 §18.1.1), and a node that is down refuses the
connection at once where a datagram would be retransmitted until Timer B.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from voip_core.proxy._tokens import flow_fields, open_token, parse_flow, remember, sign_token
from voip_core.proxy.config import ListenAddress, ProxyConfig
from voip_core.proxy.routing import RouteResult, is_local_uri, peer_for_uri
from voip_core.sip.address import parse_name_addr
from voip_core.sip.exceptions import ParseError, RemoteProtocolError
from voip_core.sip.message import Request
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri

__all__ = [
    "FLOW_FAILED",
    "NODE_HOP_PREFIX",
    "NODE_HOP_TRANSPORT",
    "NodeHop",
    "NodeHops",
    "node_hop_flow",
    "node_unreachable",
    "with_node_hop",
]

#: User-part prefix of a node hop's token (Record-Route flow tokens start with ``f-``).
NODE_HOP_PREFIX: Final = "n-"
#: The transport nodes reach each other on (see the module docstring).
NODE_HOP_TRANSPORT: Final = "tcp"
#: RFC 5626 §5.3: what the node holding a flow answers when the flow is gone.
FLOW_FAILED: Final = (430, "Flow Failed")
#: Bytes of HMAC-SHA256 kept: a valid hop skips authentication, so more than the 6 bytes
#: of a Record-Route token, which only names a flow.
_TAG_BYTES: Final = 12
#: Longest token decoded: an IPv6 flow with a connection id and a 64-character node name.
_MAX_TOKEN: Final = 256


def node_unreachable(node: str) -> tuple[int, str]:
    """What a branch through ``node`` ends with when the node or its flow is unreachable."""
    return 480, f"Temporarily Unavailable (node {node} unreachable)"


@dataclass(frozen=True, slots=True)
class NodeHop:
    """A verified node hop: which node holds a flow, and where that node listens."""

    node: str
    """The name of the node holding the flow (``--node-name``)."""
    flow: Peer
    """The flow at that node, connection id included."""
    address: Peer
    """Where requests for the node go: the hop URI's address, over TCP."""


class NodeHops:
    """Make and verify the node hops of the node named ``node``, listening on ``address``.

    ``secret`` is the key for node hops, derived from the deployment secret that every
    node shares. Both directions are pure functions of the secret and kept in bounded
    caches (emptied when full): every registration makes a hop and every lookup reads one.
    """

    def __init__(self, secret: bytes, *, node: str, address: ListenAddress) -> None:
        if not node:
            raise ValueError("node name must not be empty")
        self._secret = secret
        self.node = node
        """This node's name, part of every hop it makes."""
        self._address = address
        self._entries: dict[Peer, str] = {}
        self._decoded: dict[str, NodeHop] = {}

    def path_entry(self, flow: Peer) -> str:
        """The Path value that routes to ``flow`` through this node."""
        entry = self._entries.get(flow)
        if entry is None:
            transport = self._address.transport
            suffix = "" if transport == "udp" else f";transport={transport}"
            entry = f"<sip:{self._encode(flow)}@{self._address.host_port}{suffix};lr>"
            remember(self._entries, flow, entry)
        return entry

    def first_hop(self, path: tuple[str, ...]) -> NodeHop | None:
        """The node hop that ``path`` (a binding's Path, topmost first) starts with, if any.

        An entry that is no valid hop of this deployment is an ordinary Path entry.
        """
        if not path:
            return None
        try:
            uri = parse_name_addr(path[0]).uri
        except ParseError:
            return None
        if not isinstance(uri, SipUri) or not uri.user:
            return None
        return self.decode(uri.user, uri)

    def decode(self, token: str, uri: SipUri) -> NodeHop | None:
        """The hop ``token`` (the user part of ``uri``) names, ``None`` if it is not one."""
        hop = self._decoded.get(token)
        if hop is not None:
            return hop
        if len(token) > _MAX_TOKEN:
            return None
        payload = open_token(self._secret, NODE_HOP_PREFIX, token, _TAG_BYTES)
        if payload is None:
            return None
        try:
            transport, host, port, connection, node = payload.decode().split("|", 4)
            flow = parse_flow(transport, host, port, connection)
        except ValueError:
            return None
        hop = NodeHop(node, flow, peer_for_uri(uri, default_transport=NODE_HOP_TRANSPORT))
        remember(self._decoded, token, hop)
        return hop

    def _encode(self, flow: Peer) -> str:
        payload = f"{flow_fields(flow)}|{self.node}".encode()
        return sign_token(self._secret, NODE_HOP_PREFIX, payload, _TAG_BYTES)


def with_node_hop(
    routed: RouteResult, received: Request, config: ProxyConfig, hops: NodeHops | None
) -> RouteResult:
    """``routed`` (``received`` after §16.4) with the flow our node hop names, if any."""
    flow = node_hop_flow(received, config, hops)
    return routed if flow is None else replace(routed, node_flow=flow)


def node_hop_flow(request: Request, config: ProxyConfig, hops: NodeHops | None) -> Peer | None:
    """The flow an initial request is for when its first Route entry is our node hop.

    ``request`` is the request as received, before §16.4 removed that entry. ``None``
    when the first Route is not ours or no node hop. A Route of ours with the hop prefix
    that does not verify, or names another node, is refused with 403 (RFC 5626 §5.3: a
    tampered flow token).
    """
    if hops is None or request.to().tag is not None:
        return None  # a dialog's requests follow its Record-Route, never a node hop
    routes = request.header_values("route")
    if not routes:
        return None
    try:
        uri = parse_name_addr(routes[0]).uri
    except ParseError:
        return None  # §16.4 reports the malformed Route
    if not isinstance(uri, SipUri) or not (uri.user or "").startswith(NODE_HOP_PREFIX):
        return None
    if not is_local_uri(uri, config):
        return None
    assert uri.user is not None
    hop = hops.decode(uri.user, uri)
    if hop is None:
        raise RemoteProtocolError("Forbidden (node hop not valid)", status_code=403)
    if hop.node != hops.node:
        raise RemoteProtocolError(
            f"Forbidden (node hop of node {hop.node} reached node {hops.node})", status_code=403
        )
    return hop.flow

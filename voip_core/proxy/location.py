"""The location service over the registrar's binding store (RFC 3261 §10, RFC 5627).

With cluster nodes, a binding's Path starts with the hop of the node that holds its flow
(:mod:`voip_core.proxy.nodes`): this node's own is taken off and its flow used; another
node's makes that node the next hop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from voip_core.proxy.nodes import NodeHops, node_unreachable
from voip_core.proxy.ports import ContactTarget
from voip_core.proxy.routing import peer_for_uri
from voip_core.registrar.binding import Binding
from voip_core.registrar.gruu import is_gruu, resolve_gruu
from voip_core.registrar.store import BindingStore
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri, Uri

__all__ = ["StoreLocation"]


def _target(binding: Binding, hops: NodeHops | None) -> ContactTarget:
    uri = binding.contact_uri
    hop = None if hops is None else hops.first_hop(binding.path)
    if hop is not None:
        assert hops is not None
        if hop.node != hops.node:
            # Another node holds the flow: through that node, the whole Path as the
            # route (RFC 3327 §5.3, RFC 3261 §16.6 step 6).
            return ContactTarget(
                uri=uri,
                destination=hop.address,
                path=binding.path,
                q=binding.q,
                unreachable=node_unreachable(hop.node),
            )
        # Our own hop: the flow it names (with its connection) and the Path after it.
        binding = replace(binding, source=hop.flow, path=binding.path[1:])
    return ContactTarget(
        uri=uri, destination=_destination(binding, uri), path=binding.path, q=binding.q
    )


def _destination(binding: Binding, uri: Uri) -> Peer:
    """Where requests for a contact go (RFC 3261 §16.6 step 7).

    The REGISTER's source is the flow that reaches the phone through NAT, and over TCP
    the very connection it keeps open (RFC 5626 §5.3, RFC 3261 §18.2.2); an outbound
    flow (``reg-id``) and a Path (RFC 3327, the edge proxy sent it) are used as they
    are. A UDP contact on the host the REGISTER came from is reachable as registered:
    trusting it keeps third-party registrations working (RFC 3261 §10.2, e.g. a
    device registering a contact on another port of its own host).
    """
    source = binding.source
    if source.reliable or binding.reg_id is not None or binding.path or not isinstance(uri, SipUri):
        return source
    if uri.host.strip("[]").lower() != source.host.lower() or uri.param("maddr") is not None:
        return source  # behind NAT: the contact names an address we may not reach
    return peer_for_uri(uri)


class StoreLocation:
    """Contacts for AORs and GRUUs, from a :class:`BindingStore`."""

    def __init__(
        self, store: BindingStore, *, gruu_secret: bytes, hops: NodeHops | None = None
    ) -> None:
        self._store = store
        self._gruu_secret = gruu_secret
        #: This node's hops, when bindings may name flows of several nodes.
        self._hops = hops

    def lookup(self, aor: str, now: float) -> Sequence[ContactTarget]:
        """Unexpired contacts, highest q first (RFC 3261 §16.6 ordering hint)."""
        bindings = [b for b in self._store.get(aor) if b.expires_at > now]
        bindings.sort(key=lambda b: -(b.q if b.q is not None else 1.0))
        return [_target(b, self._hops) for b in bindings]

    def lookup_gruu(self, uri: SipUri, now: float) -> Sequence[ContactTarget] | None:
        """Contacts a public or temporary GRUU reaches; ``None`` if ``uri`` is no GRUU."""
        if not is_gruu(uri):
            return None
        bindings = resolve_gruu(uri, self._store.by_gruu, gruu_secret=self._gruu_secret, now=now)
        return [_target(b, self._hops) for b in bindings]

"""Node hops: the Path entry naming the node that holds a binding's flow.

Covers (:mod:`voip_core.proxy.nodes`): the hop round trip (flow with connection id, node
name, the hop URI's address over TCP), refusal of forged hops (another key, a dialog's
Record-Route flow token, changed bytes, another node's hop reaching us), the check of
an initial request's first Route (ours: its flow; forged: 403), and the location
service: a binding with our own hop reaches the flow directly, one with another node's
hop goes to that node with the whole Path as Route set and ends with 480 when the node
cannot be reached. Not covered here: forwarding through the proxy
(``test_core.py``) and two real nodes (``tests/integration/test_nodes.py``).
"""

from __future__ import annotations

import base64

import pytest

from tests.voip_core.proxy.conftest import build_request
from tests.voip_core.proxy.test_location import AOR, NOW
from tests.voip_core.proxy.test_location import binding as location_binding
from voip_core.proxy.config import ListenAddress, ProxyConfig
from voip_core.proxy.location import StoreLocation
from voip_core.proxy.nodes import NodeHop, NodeHops, node_hop_flow
from voip_core.proxy.routing import FlowTokens
from voip_core.registrar import Binding, MemoryBindingStore
from voip_core.sip.address import parse_name_addr
from voip_core.sip.exceptions import RemoteProtocolError
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri

KEY = b"node-hop-key-0123456789abcdef012"
NODE_A = ListenAddress("tcp", "10.0.0.1", 5060)
NODE_B = ListenAddress("tcp", "10.0.0.2", 5070)
PHONE_FLOW = Peer("tcp", "192.168.1.33", 41000, 7)


def hops_a(key: bytes = KEY) -> NodeHops:
    return NodeHops(key, node="a", address=NODE_A)


def hops_b(key: bytes = KEY) -> NodeHops:
    return NodeHops(key, node="b", address=NODE_B)


def user_of(entry: str) -> tuple[str, SipUri]:
    uri = parse_name_addr(entry).uri
    assert isinstance(uri, SipUri)
    assert uri.user is not None
    return uri.user, uri


def test_a_hop_names_the_node_and_the_flow_and_routes_to_the_node_over_tcp() -> None:
    entry = hops_a().path_entry(PHONE_FLOW)
    token, uri = user_of(entry)

    assert entry.startswith("<sip:n-")
    assert entry.endswith("@10.0.0.1:5060;transport=tcp;lr>")
    hop = hops_b().decode(token, uri)
    assert hop == NodeHop("a", PHONE_FLOW, Peer("tcp", "10.0.0.1", 5060))
    assert hops_b().first_hop((entry, "<sip:edge.county.gov.cn;lr>")) == hop


def test_a_udp_flow_without_connection_round_trips() -> None:
    flow = Peer("udp", "2001:db8::7", 31044)
    entry = hops_a().path_entry(flow)
    assert hops_a().first_hop((entry,)) == NodeHop("a", flow, Peer("tcp", "10.0.0.1", 5060))


def test_a_hop_made_with_another_key_is_refused() -> None:
    entry = hops_a(b"another-deployment-key-000000000").path_entry(PHONE_FLOW)
    assert hops_a().first_hop((entry,)) is None


def test_a_dialog_record_route_token_is_no_node_hop() -> None:
    # Even under the very same key, the Record-Route token of a dialog names a flow
    # but never lets a request skip authentication.
    flow_token = FlowTokens(KEY).encode(PHONE_FLOW)
    entry = f"<sip:{flow_token}@10.0.0.1:5060;transport=tcp;lr>"
    assert hops_a().first_hop((entry,)) is None
    renamed = f"<sip:n-{flow_token[2:]}@10.0.0.1:5060;transport=tcp;lr>"
    assert hops_a().first_hop((renamed,)) is None


def test_a_hop_with_changed_bytes_is_refused() -> None:
    token, _ = user_of(hops_a().path_entry(PHONE_FLOW))
    text = token[2:].upper()
    raw = bytearray(base64.b32decode(text + "=" * (-len(text) % 8)))
    raw[-1] ^= 0x01  # the node name's last byte: "a" becomes "`"
    forged = "n-" + base64.b32encode(bytes(raw)).decode().rstrip("=").lower()
    assert hops_a().first_hop((f"<sip:{forged}@10.0.0.1:5060;transport=tcp;lr>",)) is None
    truncated = token[:-4]
    assert hops_a().first_hop((f"<sip:{truncated}@10.0.0.1:5060;lr>",)) is None


def test_path_entries_that_are_no_hops_are_left_alone() -> None:
    assert hops_a().first_hop(()) is None
    assert hops_a().first_hop(("<sip:edge.county.gov.cn;lr>",)) is None
    assert hops_a().first_hop(("<sip:n-zzzz@edge.county.gov.cn;lr>",)) is None
    assert hops_a().first_hop(("<sip:edge",)) is None


def test_a_node_needs_a_name() -> None:
    with pytest.raises(ValueError, match="^node name must not be empty$"):
        NodeHops(KEY, node="", address=NODE_A)


# -- an initial request arriving through our hop --------------------------------------


def proxy_config() -> ProxyConfig:
    return ProxyConfig(
        domain="county.gov.cn",
        listen=(ListenAddress("udp", "10.0.0.1", 5060), NODE_A),
        aliases=frozenset({"10.0.0.1"}),
    )


def test_our_hop_on_top_of_the_route_gives_its_flow() -> None:
    entry = hops_a().path_entry(PHONE_FLOW)
    request = build_request(extra=f"Route: {entry}\nRoute: <sip:edge.county.gov.cn;lr>")
    assert node_hop_flow(request, proxy_config(), hops_a()) == PHONE_FLOW


def test_requests_without_our_hop_on_top_are_not_hop_requests() -> None:
    config = proxy_config()
    assert node_hop_flow(build_request(), config, hops_a()) is None
    entry = hops_a().path_entry(PHONE_FLOW)
    assert node_hop_flow(build_request(extra=f"Route: {entry}"), config, None) is None
    others = build_request(extra="Route: <sip:n-abc@10.9.9.9:5060;lr>")
    assert node_hop_flow(others, config, hops_a()) is None  # not ours: §16.4 forwards it
    flow_token = FlowTokens(KEY).encode(PHONE_FLOW)
    record_route = build_request(extra=f"Route: <sip:{flow_token}@10.0.0.1:5060;lr>")
    assert node_hop_flow(record_route, config, hops_a()) is None


def test_a_forged_hop_of_ours_is_403() -> None:
    token, _ = user_of(hops_a().path_entry(PHONE_FLOW))
    forged = token[:-2] + ("aa" if not token.endswith("aa") else "bb")
    request = build_request(extra=f"Route: <sip:{forged}@10.0.0.1:5060;transport=tcp;lr>")
    with pytest.raises(RemoteProtocolError) as caught:
        node_hop_flow(request, proxy_config(), hops_a())
    assert (caught.value.status_code, caught.value.reason) == (
        403,
        "Forbidden (node hop not valid)",
    )


def test_another_nodes_hop_reaching_us_is_403() -> None:
    # Node b's hop, but addressed to our host and port (a misconfigured node, a replay).
    token, _ = user_of(hops_b().path_entry(PHONE_FLOW))
    request = build_request(extra=f"Route: <sip:{token}@10.0.0.1:5060;transport=tcp;lr>")
    with pytest.raises(RemoteProtocolError) as caught:
        node_hop_flow(request, proxy_config(), hops_a())
    assert (caught.value.status_code, caught.value.reason) == (
        403,
        "Forbidden (node hop of node b reached node a)",
    )


# -- the location service on several nodes --------------------------------------------


CONTACT = "sip:8301@192.168.1.33:5060;transport=tcp"


def binding(path: tuple[str, ...], source: Peer = PHONE_FLOW) -> Binding:
    return location_binding(CONTACT, source, path=path)


def location(hops: NodeHops, *bindings: Binding) -> StoreLocation:
    store = MemoryBindingStore()
    store.replace(AOR, list(bindings))
    return StoreLocation(store, gruu_secret=b"k", hops=hops)


def test_a_flow_of_our_own_node_is_reached_directly_with_its_connection() -> None:
    # The shared stores drop the connection id; the hop keeps it.
    stored = binding((hops_a().path_entry(PHONE_FLOW),), source=Peer("tcp", "192.168.1.33", 41000))
    (target,) = location(hops_a(), stored).lookup(AOR, NOW)
    assert (target.destination, target.path, target.unreachable) == (PHONE_FLOW, (), None)


def test_our_own_hop_is_taken_off_a_path_through_an_edge_proxy() -> None:
    edge_flow = Peer("udp", "10.3.0.9", 5060)
    stored = binding((hops_a().path_entry(edge_flow), "<sip:edge.county.gov.cn;lr>"), edge_flow)
    (target,) = location(hops_a(), stored).lookup(AOR, NOW)
    assert (target.destination, target.path) == (edge_flow, ("<sip:edge.county.gov.cn;lr>",))


def test_a_flow_of_another_node_is_reached_through_that_node() -> None:
    path = (hops_a().path_entry(PHONE_FLOW), "<sip:edge.county.gov.cn;lr>")
    (target,) = location(hops_b(), binding(path)).lookup(AOR, NOW)
    assert target.destination == Peer("tcp", "10.0.0.1", 5060)
    assert target.path == path
    assert target.uri == binding(path).contact_uri
    assert target.unreachable == (480, "Temporarily Unavailable (node a unreachable)")


def test_without_hops_a_binding_keeps_todays_destination() -> None:
    store = MemoryBindingStore()
    store.replace(AOR, [binding(())])
    (target,) = StoreLocation(store, gruu_secret=b"k").lookup(AOR, NOW)
    assert (target.destination, target.unreachable) == (PHONE_FLOW, None)

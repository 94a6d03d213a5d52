"""The proxy on two cluster nodes: a request for a flow another node holds goes through it.

Covers (:mod:`voip_core.proxy.nodes`): node A, given an INVITE from node B whose first
Route is A's node hop, forwards it straight to the flow the hop names, without a
challenge and without the numbering plan, record-routing it, and sends the 200 back to
node B; a forged hop is refused with 403 before authentication; A answers 430 Flow
Failed when the flow is gone (RFC 5626 §5.3). Node B sends the INVITE to node A with the
binding's Path as its Route set, and answers the caller 480, never 500, when node A
cannot be reached or reports 430. In-dialog requests along the Record-Route through both
nodes are covered end to end in ``tests/integration/test_nodes.py``.
"""

from __future__ import annotations

from tests.voip_core.proxy.harness import (
    CALLER,
    DOMAIN,
    PHONE_C,
    ProxyHarness,
    answer,
    contact_of,
    invite,
    make_config,
    summary,
)
from voip_core.proxy.config import ListenAddress
from voip_core.proxy.nodes import NodeHops
from voip_core.proxy.ports import ContactTarget
from voip_core.sip.message import Request, Response
from voip_core.sip.peer import Peer
from voip_core.transaction import ClientKey, Outbound

KEY = b"node-hop-key-0123456789abcdef012"
AOR = f"sip:8001@{DOMAIN}"
#: Node A is the harness's proxy (10.0.0.1:5060); node B listens on 10.0.0.2:5060.
HOPS_A = NodeHops(KEY, node="a", address=ListenAddress("tcp", "10.0.0.1", 5060))
HOPS_B = NodeHops(KEY, node="b", address=ListenAddress("tcp", "10.0.0.2", 5060))
#: Node B's connection to node A, as node A sees it.
FROM_NODE_B = Peer("tcp", "10.0.0.2", 45012, 9)
#: Node A's listener, as node B sends to it.
NODE_A = Peer("tcp", "10.0.0.1", 5060)


def node_a() -> ProxyHarness:
    return ProxyHarness(node_hops=HOPS_A)


def node_b() -> ProxyHarness:
    h = ProxyHarness(
        config=make_config(
            listen=(ListenAddress("udp", "10.0.0.2", 5060), ListenAddress("tcp", "10.0.0.2", 5060)),
            aliases=frozenset({"10.0.0.2"}),
        ),
        node_hops=HOPS_B,
    )
    phone = contact_of(PHONE_C)
    h.location.contacts[AOR] = [
        ContactTarget(
            uri=phone.uri,
            destination=NODE_A,
            path=(HOPS_A.path_entry(PHONE_C),),
            unreachable=(480, "Temporarily Unavailable (node a unreachable)"),
        )
    ]
    return h


def from_node_b(hop: str) -> Request:
    """What node B sends node A: the caller's INVITE, authenticated there, with B's Via
    on top, the contact as Request-URI and node A's hop as Route."""
    request = invite(
        str(contact_of(PHONE_C).uri),
        credentials=False,
        source=FROM_NODE_B,
        extra=(f"Route: {hop}",),
    )
    return request


def request_to(sent: list[Outbound], destination: Peer) -> Request:
    (message,) = [o.message for o in sent if o.destination == destination]
    assert isinstance(message, Request)
    return message


def response_to(sent: list[Outbound], destination: Peer, code: int) -> Response:
    (message,) = [
        o.message
        for o in sent
        if o.destination == destination
        and isinstance(o.message, Response)
        and o.message.status_code == code
    ]
    assert isinstance(message, Response)
    return message


def client_key(sent: list[Outbound], destination: Peer) -> ClientKey:
    (key,) = [o.key for o in sent if o.destination == destination and isinstance(o.key, ClientKey)]
    return key


def test_node_a_forwards_a_request_through_its_hop_straight_to_the_flow() -> None:
    h = node_a()
    sent = h.deliver(from_node_b(HOPS_A.path_entry(PHONE_C)), FROM_NODE_B)

    assert summary(sent) == [f"100>{FROM_NODE_B}", "INVITE>c"]
    assert h.authenticator.asked == []  # node B authenticated the caller
    forwarded = request_to(sent, PHONE_C)
    assert str(forwarded.uri) == str(contact_of(PHONE_C).uri)
    assert forwarded.header("route") is None
    record_routes = forwarded.header_lines("record-route")
    assert len(record_routes) == 2  # RFC 5658: one facing each side
    assert all("10.0.0.1:5060;transport=tcp;lr" in value for value in record_routes)

    sent = h.deliver(answer(forwarded, 200), PHONE_C)
    assert summary(sent) == [f"200>{FROM_NODE_B}"]
    h.settle()


def test_node_a_refuses_a_forged_hop_with_403_without_a_challenge() -> None:
    h = node_a()
    entry = HOPS_A.path_entry(PHONE_C)
    forged = entry.replace("<sip:n-", "<sip:n-a", 1)
    sent = h.deliver(from_node_b(forged), FROM_NODE_B)

    refusal = response_to(sent, FROM_NODE_B, 403)
    assert refusal.reason == "Forbidden (node hop not valid)"
    assert h.authenticator.asked == []
    h.settle()


def test_node_a_answers_430_when_the_flow_is_gone() -> None:
    h = node_a()
    sent = h.deliver(from_node_b(HOPS_A.path_entry(PHONE_C)), FROM_NODE_B)

    h.layer.transport_error(key=client_key(sent, PHONE_C))
    sent = h.pump()

    failed = response_to(sent, FROM_NODE_B, 430)
    assert failed.reason == "Flow Failed"
    h.settle()


def test_node_b_sends_the_call_to_node_a_with_the_path_as_route() -> None:
    h = node_b()
    sent = h.deliver(invite(), CALLER)

    assert summary(sent) == ["100>caller", f"INVITE>{NODE_A}"]
    forwarded = request_to(sent, NODE_A)
    assert forwarded.header_lines("route") == [HOPS_A.path_entry(PHONE_C)]
    assert str(forwarded.uri) == str(contact_of(PHONE_C).uri)
    assert len(forwarded.header_lines("record-route")) == 2


def test_node_b_answers_480_when_node_a_cannot_be_reached() -> None:
    h = node_b()
    sent = h.deliver(invite(), CALLER)

    h.layer.transport_error(key=client_key(sent, NODE_A))
    sent = h.pump()

    final = response_to(sent, CALLER, 480)
    assert final.reason == "Temporarily Unavailable (node a unreachable)"
    h.settle()


def test_node_b_answers_480_for_node_as_430() -> None:
    h = node_b()
    sent = h.deliver(invite(), CALLER)

    sent = h.deliver(answer(request_to(sent, NODE_A), 430), NODE_A)

    final = response_to(sent, CALLER, 480)
    assert final.reason == "Temporarily Unavailable (node a unreachable)"
    h.settle()

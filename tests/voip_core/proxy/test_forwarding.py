"""RFC 3261 §16.6 forwarding, §16.3 step 4 loop detection and §16.7 best response.

Covers: Request-URI rewrite, Max-Forwards decrement or insertion, double Record-Route with
flow tokens (RFC 5658), Path pushed as Route (RFC 3327), our Via on top with a magic-cookie
branch carrying the loop hash, loop (482) vs spiral, best-response rules (6xx, lowest
class, preferred 4xx). Leaves out: Timer C and forking (test_core).
"""

from __future__ import annotations

import pytest

from tests.voip_core.proxy.conftest import build_request
from voip_core.proxy.config import ProxyConfig
from voip_core.proxy.forwarding import Target, check_loop, forward_request, loop_hash, make_branch
from voip_core.proxy.responses import choose_best_response, response_destination
from voip_core.proxy.routing import FlowTokens
from voip_core.sip.exceptions import RemoteProtocolError
from voip_core.sip.message import make_response
from voip_core.sip.peer import Peer
from voip_core.sip.uri import parse_uri
from voip_core.sip.via import parse_via

TOKENS = FlowTokens(b"secret")
CALLER = Peer("udp", "192.168.1.20", 5060)
CALLEE = Peer("tcp", "192.168.1.30", 41000, 7)


def forward(config: ProxyConfig, request=None, **kwargs):  # type: ignore[no-untyped-def]
    request = request or build_request()
    target = kwargs.pop(
        "target", Target(parse_uri("sip:8001@192.168.1.30:5062;transport=tcp"), CALLEE)
    )
    branch = make_branch(loop_hash(request), "z9hG4bKabc", 0)
    return forward_request(
        request,
        target,
        config=config,
        tokens=TOKENS,
        source=CALLER,
        branch=branch,
        record_route=kwargs.pop("record_route", True),
    )


def test_forward_rewrites_uri_and_decrements_max_forwards(config: ProxyConfig) -> None:
    forwarded = forward(config)
    assert str(forwarded.uri) == "sip:8001@192.168.1.30:5062;transport=tcp"
    assert forwarded.header("max-forwards") == "69"


def test_forward_adds_max_forwards_when_missing(config: ProxyConfig) -> None:
    forwarded = forward(config, build_request(max_forwards=None))
    assert forwarded.header("max-forwards") == "70"


def test_forward_double_record_route_with_flow_tokens(config: ProxyConfig) -> None:
    forwarded = forward(config)
    routes = forwarded.record_routes()
    assert len(routes) == 2
    outgoing, incoming = routes
    assert outgoing.sip_uri.transport == "tcp"
    assert incoming.sip_uri.transport is None
    assert outgoing.sip_uri.is_loose_router
    assert incoming.sip_uri.is_loose_router
    assert TOKENS.decode(outgoing.sip_uri.user or "") == CALLEE
    assert TOKENS.decode(incoming.sip_uri.user or "") == CALLER


def test_forward_without_record_route(config: ProxyConfig) -> None:
    assert forward(config, record_route=False).header("record-route") is None


def test_forward_pushes_path_as_route(config: ProxyConfig) -> None:
    target = Target(
        parse_uri("sip:8001@192.168.1.30"),
        CALLEE,
        path=("<sip:edge1.example.net;lr>", "<sip:edge2.example.net;lr>"),
    )
    forwarded = forward(config, target=target)
    assert forwarded.header_values("route") == [
        "<sip:edge1.example.net;lr>",
        "<sip:edge2.example.net;lr>",
    ]


def test_forward_puts_our_via_on_top(config: ProxyConfig) -> None:
    forwarded = forward(config)
    top, previous = forwarded.vias()[:2]
    assert top.transport == "TCP"
    assert top.sent_by == "10.0.0.1:5060"
    assert (top.branch or "").startswith("z9hG4bK")
    assert previous.host == "192.168.1.20"


def test_loop_is_detected_when_request_returns_unchanged(config: ProxyConfig) -> None:
    request = build_request()
    branch = make_branch(loop_hash(request), "x", 0)
    looped = request.prepend("Via", f"SIP/2.0/UDP 10.0.0.1:5060;branch={branch}").prepend(
        "Via", "SIP/2.0/UDP 192.168.1.99:5060;branch=z9hG4bKnext"
    )
    with pytest.raises(RemoteProtocolError) as caught:
        check_loop(looped, config)
    assert caught.value.status_code == 482


def test_spiral_with_new_request_uri_is_not_a_loop(config: ProxyConfig) -> None:
    request = build_request()
    branch = make_branch(loop_hash(request), "x", 0)
    spiral = (
        request.with_uri(parse_uri("sip:8002@county.gov.cn"))
        .prepend("Via", f"SIP/2.0/UDP 10.0.0.1:5060;branch={branch}")
        .prepend("Via", "SIP/2.0/UDP 192.168.1.99:5060;branch=z9hG4bKnext")
    )
    check_loop(spiral, config)


def test_best_response_rules() -> None:
    request = build_request()

    def r(code: int):  # type: ignore[no-untyped-def]
        return make_response(request, code, to_tag="x")

    assert choose_best_response([]) is None
    assert choose_best_response([r(486), r(603), r(200)]).status_code == 603  # type: ignore[union-attr]
    assert choose_best_response([r(486), r(302)]).status_code == 302  # type: ignore[union-attr]
    assert choose_best_response([r(480), r(407), r(486)]).status_code == 407  # type: ignore[union-attr]
    assert choose_best_response([r(408), r(486)]).status_code == 486  # type: ignore[union-attr]
    assert choose_best_response([r(408), r(480)]).status_code == 408  # type: ignore[union-attr]
    assert choose_best_response([r(503), r(500)]).status_code == 503  # type: ignore[union-attr]


def test_response_destination_rules() -> None:
    via = parse_via("SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bK1;received=10.9.9.9;rport=40000")[
        0
    ]
    assert response_destination(via, None, force_rport=False) == Peer("udp", "10.9.9.9", 40000)
    plain = parse_via("SIP/2.0/UDP 192.168.1.20;branch=z9hG4bK1")[0]
    assert response_destination(plain, None, force_rport=False) == Peer("udp", "192.168.1.20", 5060)
    source = Peer("udp", "10.1.1.1", 33333)
    assert response_destination(plain, source, force_rport=True) == source
    assert response_destination(plain, source, force_rport=False) == Peer(
        "udp", "192.168.1.20", 5060
    )
    asks = parse_via("SIP/2.0/UDP 192.168.1.20;branch=z9hG4bK1;rport")[0]
    assert response_destination(asks, source, force_rport=False) == Peer(
        "udp", "192.168.1.20", 33333
    )
    tcp = Peer("tcp", "10.1.1.1", 40001, 4)
    assert response_destination(plain, tcp, force_rport=False) == tcp

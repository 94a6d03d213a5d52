"""RFC 3261 §16.4 route pre-processing, flow tokens and next-hop selection.

Covers: removal of every leading Route of ours (double Record-Route), the flow named by
the last removed entry, foreign Routes kept, strict-router Request-URI restoration,
forged/tampered flow tokens ignored, maddr/transport/sips next hops. Leaves out: DNS
(RFC 3263) resolution of host names.
"""

from __future__ import annotations

from tests.voip_core.proxy.conftest import build_request
from voip_core.proxy.config import ProxyConfig
from voip_core.proxy.routing import FlowTokens, is_local_uri, peer_for_uri, preprocess_route
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri, TelUri, parse_uri

TOKENS = FlowTokens(b"secret")


def test_flow_token_round_trip() -> None:
    peer = Peer("tcp", "192.168.1.20", 40312, 17)
    assert TOKENS.decode(TOKENS.encode(peer)) == peer


def test_flow_token_from_another_secret_is_rejected() -> None:
    token = FlowTokens(b"other").encode(Peer("udp", "10.9.9.9", 5060))
    assert TOKENS.decode(token) is None
    assert TOKENS.decode("f-notbase32!!") is None
    assert TOKENS.decode("8001") is None


def test_ipv6_flow_token_round_trip() -> None:
    peer = Peer("udp", "2001:db8::5", 5062)
    assert TOKENS.decode(TOKENS.encode(peer)) == peer


def test_preprocess_removes_both_of_our_routes_and_reports_last_flow(config: ProxyConfig) -> None:
    caller = Peer("udp", "192.168.1.20", 5060)
    callee = Peer("tcp", "192.168.1.30", 41000, 3)
    extra = (
        f"Route: <sip:{TOKENS.encode(caller)}@10.0.0.1:5060;lr>\n"
        f"Route: <sip:{TOKENS.encode(callee)}@10.0.0.1:5060;transport=tcp;lr>, "
        "<sip:next.example.net;lr>"
    )
    request = build_request("BYE", "sip:8001@192.168.1.30:5060", to_tag="t1", extra=extra)
    result = preprocess_route(request, config, TOKENS)
    assert result.removed == 2
    assert result.flow == callee
    assert result.request.header_values("route") == ["<sip:next.example.net;lr>"]


def test_preprocess_skips_an_empty_route_line_before_ours(config: ProxyConfig) -> None:
    caller = Peer("udp", "192.168.1.20", 5060)
    extra = (
        f"Route:\nRoute: <sip:{TOKENS.encode(caller)}@10.0.0.1:5060;lr>, <sip:next.example.net;lr>"
    )
    request = build_request("BYE", "sip:8001@192.168.1.30:5060", to_tag="t1", extra=extra)
    result = preprocess_route(request, config, TOKENS)
    assert result.removed == 1
    assert result.flow == caller
    assert result.request.header_lines("route") == ["<sip:next.example.net;lr>"]


def test_flow_tokens_are_cached_both_ways_and_forgeries_are_not() -> None:
    tokens = FlowTokens(b"secret")
    peer = Peer("tcp", "192.168.1.30", 41000, 3)
    token = tokens.encode(peer)
    assert tokens.encode(Peer("tcp", "192.168.1.30", 41000, 3)) is token
    assert tokens.decode(token) == peer
    assert tokens.decode(token) is tokens.decode(token)
    forged = FlowTokens(b"other").encode(peer)
    assert tokens.decode(forged) is None
    assert forged not in tokens._decoded


def test_preprocess_keeps_foreign_route(config: ProxyConfig) -> None:
    request = build_request(extra="Route: <sip:other.example.net;lr>")
    result = preprocess_route(request, config, TOKENS)
    assert result.removed == 0
    assert result.flow is None
    assert result.request == request


def test_strict_router_request_uri_is_restored(config: ProxyConfig) -> None:
    token = TOKENS.encode(Peer("udp", "192.168.1.30", 5060))
    request = build_request(
        "BYE",
        f"sip:{token}@10.0.0.1:5060;lr",
        to_tag="t1",
        extra="Route: <sip:8001@192.168.1.30:5060>",
    )
    result = preprocess_route(request, config, TOKENS)
    assert str(result.request.uri) == "sip:8001@192.168.1.30:5060"
    assert result.request.header("route") is None
    assert result.flow == Peer("udp", "192.168.1.30", 5060)


def test_local_uri_recognises_domain_aliases_and_ports(config: ProxyConfig) -> None:
    assert is_local_uri(parse_uri("sip:8001@county.gov.cn"), config)
    assert is_local_uri(parse_uri("sip:8001@COUNTY.GOV.CN:5080"), config)
    assert is_local_uri(parse_uri("sip:8001@10.0.0.1:5060"), config)
    assert not is_local_uri(parse_uri("sip:8001@10.0.0.1:5070"), config)
    assert not is_local_uri(parse_uri("sip:8001@example.com"), config)
    assert is_local_uri(TelUri("+8613800000001"), config)
    assert not is_local_uri(parse_uri("mailto:a@b.c"), config)


def test_peer_for_uri_honours_transport_maddr_and_sips() -> None:
    def peer(text: str) -> Peer:
        uri = parse_uri(text)
        assert isinstance(uri, SipUri)
        return peer_for_uri(uri)

    assert peer("sip:8001@192.168.1.30") == Peer("udp", "192.168.1.30", 5060)
    assert peer("sip:8001@192.168.1.30:5070;transport=TCP") == Peer("tcp", "192.168.1.30", 5070)
    assert peer("sip:8001@example.com;maddr=10.1.1.1") == Peer("udp", "10.1.1.1", 5060)
    assert peer("sips:8001@[2001:db8::1]") == Peer("tls", "2001:db8::1", 5061)

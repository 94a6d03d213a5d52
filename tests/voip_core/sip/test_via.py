"""The Via header: ``voip_core/sip/via.py``.

Covered: RFC 3261 §20.42 and the §25.1 via-parm grammar (sent-protocol with LWS around
"/", sent-by with LWS around ":", comma-separated via-parms, branch/received/ttl/maddr
must carry a value, quoted generic parameters), §8.1.1.7 magic cookie constant, RFC 3581
rport (flag and value), RFC 5118 §4.5 received with and without IPv6 brackets.
Left out: validity of received/maddr addresses and ttl range (kept as written).
"""

from __future__ import annotations

import pytest

from voip_core.sip._memo import clear_caches
from voip_core.sip.exceptions import ParseError
from voip_core.sip.via import MAGIC_COOKIE, Via, parse_via, serialize_via


def test_typical_via() -> None:
    (via,) = parse_via("SIP/2.0/UDP 10.12.3.41:5060;branch=z9hG4bK-1;rport")
    assert via == Via("UDP", "10.12.3.41", 5060, (("branch", "z9hG4bK-1"), ("rport", None)))
    assert via.branch == "z9hG4bK-1"
    assert via.branch.startswith(MAGIC_COOKIE)
    assert via.wants_rport
    assert via.rport is None
    assert via.sent_by == "10.12.3.41:5060"
    assert str(via) == "SIP/2.0/UDP 10.12.3.41:5060;branch=z9hG4bK-1;rport"


def test_filled_in_parameters() -> None:
    (via,) = parse_via(
        "SIP/2.0/TCP Host.Example.com;received=192.0.2.1;rport=5070;maddr=239.1.1.1;ttl=3"
    )
    assert (via.received, via.rport, via.maddr, via.sent_by) == (
        "192.0.2.1",
        5070,
        "239.1.1.1",
        "host.example.com",
    )
    (odd,) = parse_via("SIP/2.0/UDP h;rport=x")
    assert odd.rport is None
    (bare,) = parse_via("SIP/2.0/UDP h")
    assert (bare.branch, bare.received, bare.maddr, bare.wants_rport) == (None, None, None, False)


def test_lws_everywhere_as_in_rfc_4475_wsinv() -> None:
    vias = parse_via(
        "SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw , "
        "SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8  ,"
        " SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239"
    )
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    (spaced,) = parse_via("SIP/2.0/UDP host : 5060 ;branch=x")
    assert (spaced.host, spaced.port) == ("host", 5060)


def test_other_versions_and_transports_are_kept() -> None:
    (via,) = parse_via("sip/7.0/udp c.example.com;branch=z9hG4bKkdjuw")
    assert (via.protocol, via.transport) == ("SIP/7.0", "UDP")
    (ws,) = parse_via("SIP/2.0/wss df7jal23ls0d.invalid;branch=z9hG4bKasudf")
    assert ws.transport == "WSS"


def test_ipv6_sent_by_and_received() -> None:
    (with_delim,) = parse_via("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=x")
    assert (with_delim.host, with_delim.received) == ("[2001:db8::9:1]", "[2001:db8::9:255]")
    (no_delim,) = parse_via("SIP/2.0/UDP [2001:db8::9:1]:6050;received=2001:db8::9:255")
    assert (no_delim.port, no_delim.received) == (6050, "2001:db8::9:255")


def test_quoted_parameter_takes_the_full_path() -> None:
    (via,) = parse_via('SIP/2.0/UDP h;branch=z9hG4bK1;x="a;b,c"')
    assert via.params == (("branch", "z9hG4bK1"), ("x", '"a;b,c"'))


def test_helpers_and_round_trip() -> None:
    via = Via("TLS", "[2001:db8::1]", 5061, (("branch", "z9hG4bKx"),))
    stamped = via.with_param("received", "192.0.2.7").with_param("rport", "5061")
    assert stamped.received == "192.0.2.7"
    assert stamped.rport == 5061
    assert parse_via(serialize_via(stamped)) == [stamped]
    clear_caches()
    assert parse_via(serialize_via(stamped)) == [stamped]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("SIP/2.0/UDP", "malformed Via 'SIP/2.0/UDP'"),
        ("SIP/2.0 h", "malformed Via 'SIP/2.0 h'"),
        ("SIP/2.0/UDP ;branch=x", "Via 'SIP/2.0/UDP ;branch=x' has no sent-by"),
        (
            "SIP/2.0/UDP 192.0.2.15;;,;,,",
            "empty element in header list 'SIP/2.0/UDP 192.0.2.15;;,;,,'",
        ),
        ("SIP/2.0/UDP 192.0.2.15;;", "empty parameter in Via"),
        ("SIP/2.0/UDP h;", "empty parameter in Via 'SIP/2.0/UDP h;'"),
        ("SIP/2.0/UDP h;branch", "Via parameter 'branch' without a value"),
        ("SIP/2.0/UDP h;rport;RECEIVED", "Via parameter 'RECEIVED' without a value"),
        ("SIP/2.0/UDP h;ttl;x=1", "Via parameter 'ttl' without a value"),
        ("SIP/2.0/UDP h;branch=", "empty value for parameter 'branch' in Via"),
        ("SIP/2.0/UDP h:99999", "invalid port '99999' in Via"),
        ("SIP/2.0/UDP [::1]:99999;branch=x", "invalid port '99999' in Via"),
        ("SIP/2.0/UDP 300.1.1.1", "invalid IPv4 address '300.1.1.1' in Via sent-by '300.1.1.1'"),
        ("SIP/2.0/UDP [1:2]", "invalid IPv6 address [1:2] in Via"),
    ],
)
def test_malformed_vias(value: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_via(value)
    assert str(caught.value) == message

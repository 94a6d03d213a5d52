"""SIP/SIPS/TEL URIs and hostport: ``voip_core/sip/uri.py`` and ``host.py``.

Covered: RFC 3261 §19.1.1 components (user, password, host, port, parameters, headers),
§19.1.2 escaping (decoded once, NUL kept), §19.1.4 comparison with every example of
its text, §25.1 host/port grammar, RFC 5118 §4 IPv6 references (brackets, ports,
IPv4-mapped, the tolerated three-colon form), RFC 3966 tel numbers, other absolute URIs.
Left out: per-parameter value grammars (``ttl`` digits...), checked only as paramchar;
DNS (RFC 3263).
"""

from __future__ import annotations

import pytest

from voip_core.sip.exceptions import ParseError
from voip_core.sip.host import build_host_port, check_ipv6, format_host, parse_host_port
from voip_core.sip.uri import AbsoluteUri, SipUri, TelUri, parse_uri, serialize_uri, uri_equal


def test_parse_full_sip_uri() -> None:
    uri = parse_uri("sips:alice:secret@atlanta.com:5061;transport=tcp;lr?subject=x&priority=urgent")
    assert uri == SipUri(
        scheme="sips",
        host="atlanta.com",
        user="alice",
        password="secret",
        port=5061,
        params=(("transport", "tcp"), ("lr", None)),
        headers=(("subject", "x"), ("priority", "urgent")),
    )
    assert (
        str(uri) == "sips:alice:secret@atlanta.com:5061;transport=tcp;lr?subject=x&priority=urgent"
    )


def test_scheme_is_case_insensitive_and_stored_lower() -> None:
    assert parse_uri("SIP:Bob@Biloxi.COM") == SipUri("sip", "Biloxi.COM", "Bob")
    assert parse_uri("SiPs:biloxi.com") == SipUri("sips", "biloxi.com")


def test_user_part_keeps_escapes_and_decodes_once() -> None:
    uri = parse_uri("sip:null-%00-%2541@example.com")
    assert isinstance(uri, SipUri)
    assert uri.user == "null-%00-%2541"
    assert uri.user_unescaped == "null-\x00-%41"
    assert SipUri("sip", "h").user_unescaped is None


def test_user_part_may_hold_semicolons_and_question_marks() -> None:
    uri = parse_uri("sip:user;par=u%40example.net?x@example.com;lr")
    assert isinstance(uri, SipUri)
    assert (uri.user, uri.host, uri.params) == (
        "user;par=u%40example.net?x",
        "example.com",
        (("lr", None),),
    )


def test_escaped_parameter_names_match_and_values_decode() -> None:
    uri = parse_uri("sip:h;%6C%72;n%61me=v%61lue%25%34%31;TRANSPORT=%55DP")
    assert isinstance(uri, SipUri)
    assert uri.is_loose_router
    assert uri.param("name") == "v%61lue%25%34%31"
    assert uri.param_unescaped("name") == "value%41"
    assert uri.param_unescaped("lr") == ""
    assert uri.param("nope") is None
    assert uri.transport == "udp"


def test_parameter_helpers() -> None:
    uri = SipUri("sip", "h", params=(("lr", None),))
    assert uri.with_param("transport", "TCP").transport == "tcp"
    assert uri.without_param("lr").params == ()
    assert uri.host_port == "h"
    assert SipUri("sip", "[::1]", port=5060).host_port == "[::1]:5060"
    assert SipUri("sip", "h").transport is None


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("sip:[2001:db8::10]", "[2001:db8::10]", None),
        ("sip:[2001:db8::10:5070]", "[2001:db8::10:5070]", None),  # RFC 5118 §4.3
        ("sip:[2001:db8::10]:5070", "[2001:db8::10]", 5070),  # RFC 5118 §4.4
        ("sip:u@[::ffff:192.0.2.10]:19823", "[::ffff:192.0.2.10]", 19823),  # §4.9
        ("sip:[2001:db8:::192.0.2.1]", "[2001:db8:::192.0.2.1]", None),  # §4.10 tolerated
        ("sip:192.0.2.255:0", "192.0.2.255", 0),
        ("sip:010.001.002.003", "010.001.002.003", None),
        ("sip:host-1.example.com.", "host-1.example.com.", None),
        ("sip:a1b2.c3", "a1b2.c3", None),
    ],
)
def test_hosts_and_ports(text: str, host: str, port: int | None) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    assert (uri.host, uri.port) == (host, port)
    assert serialize_uri(uri) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nouri", "invalid URI 'nouri': no scheme"),
        ("1sip:x", "invalid URI '1sip:x': no scheme"),
        ("<sip:x>", "invalid URI '<sip:x>': no scheme"),
        ("sip:2001:db8::10", "IPv6 address without brackets in SIP URI 'sip:2001:db8::10'"),
        ("sip:[2001:db8::10", "unterminated IPv6 reference in SIP URI 'sip:[2001:db8::10'"),
        (
            "sip:[2001:db8::zz]",
            "invalid IPv6 address [2001:db8::zz] in SIP URI 'sip:[2001:db8::zz]'",
        ),
        ("sip:[1:2:3]", "invalid IPv6 address [1:2:3] in SIP URI 'sip:[1:2:3]'"),
        ("sip:[1::2:::3]", "invalid IPv6 address [1::2:::3] in SIP URI 'sip:[1::2:::3]'"),
        (
            "sip:[192.0.2.1]",
            "IPv4 address [192.0.2.1] inside an IPv6 reference in SIP URI 'sip:[192.0.2.1]'",
        ),
        ("sip:[::1]x", "junk 'x' after IPv6 reference in SIP URI 'sip:[::1]x'"),
        ("sip:[::1]:70000", "invalid port '70000' in SIP URI 'sip:[::1]:70000'"),
        ("sip:[::1]:123456", "invalid port '123456' in SIP URI 'sip:[::1]:123456'"),
        ("sip:256.1.1.1", "invalid IPv4 address '256.1.1.1' in SIP URI 'sip:256.1.1.1'"),
        ("sip:host:70000", "invalid port '70000' in SIP URI 'sip:host:70000'"),
        ("sip:host:", "invalid port '' in SIP URI 'sip:host:'"),
        ("sip:host:５０６０", "invalid port '５０６０' in SIP URI 'sip:host:５０６０'"),
        ("sip:1.2.3", "invalid host '1.2.3' in SIP URI 'sip:1.2.3'"),
        ("sip:-host", "invalid host '-host' in SIP URI 'sip:-host'"),
        ("sip:ho_st", "invalid host 'ho_st' in SIP URI 'sip:ho_st'"),
        ("sip:u@", "missing host in SIP URI 'sip:u@'"),
        ("sip:a@b@c", "invalid SIP URI 'sip:a@b@c': more than one '@'"),
        ("sip:us<er@h", "invalid character '<' in SIP URI 'sip:us<er@h'"),
        ("sip:u@h; lr", "invalid character ' ' in SIP URI 'sip:u@h; lr'"),
        ("sip:u%zz@h", "invalid user part 'u%zz' in SIP URI"),
        ("sip:u:p@ss@h", "invalid SIP URI 'sip:u:p@ss@h': more than one '@'"),
        ("sip:u:p:q@h", "invalid password in SIP URI 'sip:u:p:q@h'"),
        ("sip:h;", "invalid URI parameter '' in 'sip:h;'"),
        ("sip:h;a=b=c", "invalid URI parameter 'a=b=c' in 'sip:h;a=b=c'"),
        ("sip:h?", "invalid URI header '' in 'sip:h?'"),
        ("sip:h?a", "invalid URI header 'a' in 'sip:h?a'"),
        ("sip:h?a=1&b", "invalid URI header 'b' in 'sip:h?a=1&b'"),
        ("tel:xyz;x", "invalid tel URI number 'xyz'"),
        ("tel:+1;a b", "invalid URI parameter 'a b' in 'tel:+1;a b'"),
        ("mailto:", "invalid URI 'mailto:'"),
        ("urn:a b", "invalid URI 'urn:a b'"),
    ],
)
def test_malformed_uris(text: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_uri(text)
    assert str(caught.value) == message


def test_long_values_are_cut_in_error_messages() -> None:
    with pytest.raises(ParseError) as caught:
        parse_uri("sip:" + "a" * 500 + "@-")
    assert str(caught.value) == "invalid host '-' in SIP URI " + repr("sip:" + "a" * 56) + "..."


def test_tel_and_absolute_uris() -> None:
    tel = parse_uri("tel:+86-370-3123456;phone-context=+86")
    assert tel == TelUri("+86-370-3123456", (("phone-context", "+86"),))
    assert tel.scheme == "tel"
    assert str(tel) == "tel:+86-370-3123456;phone-context=+86"
    assert parse_uri("TEL:1234") == TelUri("1234")
    other = parse_uri("urn:service:sos")
    assert other == AbsoluteUri("urn", "service:sos")
    assert str(other) == "urn:service:sos"
    assert str(parse_uri("sip:h")) == "sip:h"


# RFC 3261 §19.1.4: every example pair of the text.
EQUIVALENT = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    (
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ),
    (
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ),
    ("sip:[2001:DB8::1]", "sip:[2001:db8:0::1]"),
]
DIFFERENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
    ("sip:a@h", "sips:a@h"),
    ("sip:a:pw@h", "sip:a:PW@h"),
    ("sip:a@h;maddr=x", "sip:a@h"),
    ("sip:[::1]", "sip:[::2]"),
    ("sip:[::1]", "sip:localhost"),
]


@pytest.mark.parametrize(("a", "b"), EQUIVALENT)
def test_uri_equal_examples_of_rfc_3261(a: str, b: str) -> None:
    assert uri_equal(parse_uri(a), parse_uri(b))
    assert uri_equal(parse_uri(b), parse_uri(a))


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_uri_not_equal_examples_of_rfc_3261(a: str, b: str) -> None:
    assert not uri_equal(parse_uri(a), parse_uri(b))
    assert not uri_equal(parse_uri(b), parse_uri(a))


def test_uri_equal_with_hosts_built_by_hand() -> None:
    # Values built through the API need not be valid; comparison must not raise.
    assert not uri_equal(SipUri("sip", "[zz]"), SipUri("sip", "[yy]"))


def test_uri_equal_other_schemes_compare_text() -> None:
    assert uri_equal(parse_uri("tel:+1234"), parse_uri("TEL:+1234"))
    assert not uri_equal(parse_uri("tel:+1234"), parse_uri("sip:+1234@h"))


def test_hostport_helpers() -> None:
    assert parse_host_port("h:5060", what="x") == ("h", 5060)
    assert parse_host_port("[::1]", what="x") == ("[::1]", None)
    assert build_host_port("h", None, "x") == ("h", None)
    with pytest.raises(ParseError, match=r"^invalid port '99999' in x$"):
        build_host_port("h", "99999", "x")
    with pytest.raises(ParseError, match=r"^invalid IPv6 address \[x\] in y$"):
        check_ipv6("x", "y")
    assert format_host("2001:db8::1") == "[2001:db8::1]"
    assert format_host("[::1]") == "[::1]"
    assert format_host("example.com") == "example.com"

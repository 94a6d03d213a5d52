"""name-addr / addr-spec values: ``voip_core/sip/address.py``.

Covered: RFC 3261 §20.10/§20.20/§20.39 (Contact, From, To), the §20 rule that without
``<>`` parameters belong to the header and a URI with ``?``, ``,`` or ``;`` needs
brackets, §25.1 display-name (tokens or quoted-string with escapes, UTF-8), LWS around
``;`` and ``=``, RFC 4475 §3.1.1.6 (no LWS before ``<``), §3.1.2.6/§3.1.2.14/§3.1.2.15
(unbalanced quotes, spaces inside ``<>``, non-token display names).
Left out: interpretation of q/expires values (registrar).
"""

from __future__ import annotations

import pytest

from voip_core.sip._memo import clear_caches
from voip_core.sip.address import (
    NameAddress,
    check_name_addr,
    parse_name_addr,
    serialize_name_addr,
)
from voip_core.sip.exceptions import LocalProtocolError, ParseError
from voip_core.sip.uri import AbsoluteUri, SipUri, TelUri


def test_quoted_chinese_display_name_round_trips() -> None:
    text = '"夏邑县政府办公室" <sip:8001@xiayi.gov.cn>;tag=a1'
    address = parse_name_addr(text)
    assert address.display_name == "夏邑县政府办公室"
    assert address.tag == "a1"
    assert serialize_name_addr(address) == text
    assert parse_name_addr(serialize_name_addr(address)) == address


def test_display_name_escapes_are_decoded_and_reencoded() -> None:
    address = parse_name_addr(r'"J Rosenberg \\\"" <sip:j@example.com>')
    assert address.display_name == 'J Rosenberg \\"'
    assert serialize_name_addr(address) == r'"J Rosenberg \\\"" <sip:j@example.com>'


def test_token_display_names_are_normalised_to_single_spaces() -> None:
    assert parse_name_addr("A.  Bell\t<sip:a@h>").display_name == "A. Bell"
    assert parse_name_addr("A.  Bell <sip:a@h> ; tag = 1").display_name == "A. Bell"
    assert parse_name_addr("caller<sip:caller@example.com>").display_name == "caller"


def test_empty_quoted_display_name_is_kept() -> None:
    address = parse_name_addr('"" <sip:a@h>')
    assert address.display_name == ""
    assert serialize_name_addr(address) == '"" <sip:a@h>'


def test_addr_spec_parameters_belong_to_the_header() -> None:
    address = parse_name_addr("sip:+19725552222@gw1.example.net;unknownparam;user=phone")
    assert isinstance(address.uri, SipUri)
    assert address.uri.params == ()
    assert address.params == (("unknownparam", None), ("user", "phone"))
    assert (
        serialize_name_addr(address) == "<sip:+19725552222@gw1.example.net>;unknownparam;user=phone"
    )


def test_name_addr_keeps_uri_parameters_and_headers_inside() -> None:
    address = parse_name_addr("<sip:u@h:5060;lr;transport=tcp?Route=%3Csip:x%3E>;expires=60")
    assert address.uri == SipUri(
        "sip",
        "h",
        "u",
        None,
        5060,
        (("lr", None), ("transport", "tcp")),
        (("Route", "%3Csip:x%3E"),),
    )
    assert address.param("expires") == "60"


def test_lws_around_separators() -> None:
    address = parse_name_addr('  "Q" <sip:j@h> ; newparam =\tnewvalue ;  secondparam ; q = 0.33 ')
    assert address.params == (("newparam", "newvalue"), ("secondparam", None), ("q", "0.33"))
    spec = parse_name_addr("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")
    assert spec.tag == "1918181833n"


def test_quoted_parameter_values_keep_their_quotes() -> None:
    address = parse_name_addr('<sip:u@h>;+sip.instance="<urn:uuid:1;2>";reg-id=1')
    assert address.param("+sip.instance") == '"<urn:uuid:1;2>"'
    escaped = parse_name_addr('<sip:u@h>;x="a\\"b"')
    assert escaped.param("x") == '"a\\"b"'


def test_other_schemes() -> None:
    assert parse_name_addr("<tel:+8637031234>").uri == TelUri("+8637031234")
    assert parse_name_addr("isbn:2983792873").uri == AbsoluteUri("isbn", "2983792873")
    assert parse_name_addr("<http://www.example.com>;tag=1").tag == "1"


def test_ipv6_and_port_variants_take_the_full_path() -> None:
    address = parse_name_addr('"C" <sip:c@[2001:db8::1]:5070>')
    assert isinstance(address.uri, SipUri)
    assert (address.uri.host, address.uri.port) == ("[2001:db8::1]", 5070)
    spec = parse_name_addr("sip:c@[2001:db8::1]:5070;tag=x")
    assert isinstance(spec.uri, SipUri)
    assert (spec.uri.port, spec.tag) == (5070, "x")
    assert parse_name_addr("<SIPS:c@h>").uri == SipUri("sips", "h", "c")


def test_cached_and_uncached_parses_agree() -> None:
    text = '"Office" <sip:8002@xiayi.gov.cn>;tag=1;x'
    cached = parse_name_addr(text)
    clear_caches()
    assert parse_name_addr(text) == cached
    assert parse_name_addr(text) is parse_name_addr(text)  # served from the cache


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty address"),
        ("   ", "empty address"),
        ('"Mr. J. User <sip:j@h>', """unterminated quoted string in '"Mr. J. User <sip:j@h>'"""),
        ('"Name" sip:j@h', """'<' expected after display name in '"Name" sip:j@h'"""),
        ("Bell, Alexander <sip:a@h>;tag=43", "invalid display name 'Bell, Alexander'"),
        ("<sip:a@h", "missing '>' in address '<sip:a@h'"),
        ("< sip:t@h >", "whitespace inside <> in address '< sip:t@h >'"),
        ("<>", "whitespace inside <> in address '<>'"),
        ("<sip:a@h> x", "junk 'x' after '>' in address '<sip:a@h> x'"),
        ("<sip:a@h>;", "empty parameter in address '<sip:a@h>;'"),
        ("<sip:a@h>;;", "empty parameter in address '<sip:a@h>;;'"),
        ("<sip:a@h>;a b", "invalid parameter name 'a b' in address '<sip:a@h>;a b'"),
        ("<sip:a@h>;a=", "empty value for parameter 'a' in address '<sip:a@h>;a='"),
        ("<sip:a@h>;a=b c", "invalid value 'b c' for parameter 'a' in address '<sip:a@h>;a=b c'"),
        ('<sip:a@h>;a="b', """unterminated quoted string in 'a="b'"""),
        ('<sip:a@h>;a="b"c"', """unterminated quoted string in 'a="b"c"'"""),
        ('<sip:a@h>;a="b" "c"', """unescaped quote inside quoted string '"b" "c"'"""),
        ("sip:a@h;", "empty parameter in address 'sip:a@h;'"),
        # found by the round-trip property: a lone "[" is no host, with or without quotes
        ("<tel:0>;0=[", "invalid value '[' for parameter '0' in address '<tel:0>;0=['"),
        ("sip:a b@h", "invalid address 'sip:a b@h'"),
        ("sip:u@h?Route=x", "URI with '?' not enclosed in '<>' in address 'sip:u@h?Route=x'"),
        ("*", "invalid URI '*': no scheme"),
        ('"a\\', """unterminated quoted string in '"a\\\\'"""),
    ],
)
def test_malformed_addresses(text: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_name_addr(text)
    assert str(caught.value) == message
    with pytest.raises(ParseError):
        check_name_addr(text)


def test_lone_bracket_is_refused_next_to_a_quoted_value() -> None:
    # Found by the round-trip property: the scanner used to split this differently
    # from the fast path, which took "[" for a host.
    text = r'<tel:0>;0="\\";0=[;0'
    with pytest.raises(ParseError) as caught:
        parse_name_addr(text)
    assert str(caught.value) == f"invalid value '[;0' for parameter '0' in address {text!r}"


def test_helpers() -> None:
    address = NameAddress(SipUri("sip", "h", "u"), "N", (("tag", "1"),))
    assert address.with_param("expires", "60").params == (("tag", "1"), ("expires", "60"))
    assert address.with_param("TAG", "2").tag == "2"
    assert address.without_param("tag").tag is None
    assert address.sip_uri == SipUri("sip", "h", "u")
    assert str(address) == '"N" <sip:u@h>;tag=1'
    check_name_addr(str(address))


def test_sip_uri_of_another_scheme_is_a_416() -> None:
    with pytest.raises(ParseError) as caught:
        _ = NameAddress(TelUri("+1")).sip_uri
    assert str(caught.value) == "SIP URI expected, got 'tel:+1'"
    assert caught.value.status_code == 416


def test_display_name_with_line_break_cannot_be_serialised() -> None:
    with pytest.raises(LocalProtocolError, match="^CR or LF in quoted string 'a\\\\r\\\\nVia: x'$"):
        serialize_name_addr(NameAddress(SipUri("sip", "h"), "a\r\nVia: x"))

"""Requests, responses, accessors and helpers: ``voip_core/sip/message.py``.

Covered: RFC 3261 §7 message model and serialisation (Content-Length always true and
last), §7.3.1 list headers (header_values vs header_lines), §8.2.6.1/§8.2.6.2 building
responses (Via/From/To/Call-ID/CSeq copied in order, To tag added except in 100, 100
echoes Timestamp), §10.2.2 wildcard Contact, §20.19 Expires bound, §20.22 Max-Forwards,
the modification helpers (prepend/insert_first/set_header/append/remove/pop_first_value,
with_uri/with_body), the memo's independence from equality, hashing, repr, copies and
pickling, and the fast constructors' equivalence with ``__init__``.
Left out: the parser's validation (test_parser.py).
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from dataclasses import fields, replace

import pytest

from voip_core.sip._access import HeaderMemo
from voip_core.sip.address import NameAddress
from voip_core.sip.exceptions import LocalProtocolError, ParseError
from voip_core.sip.headers import CSeq, Header, make_header
from voip_core.sip.message import (
    Request,
    Response,
    format_via,
    make_response,
    new_request,
    new_response,
)
from voip_core.sip.parser import parse_message
from voip_core.sip.uri import SipUri
from voip_core.sip.via import Via

URI = SipUri("sip", "xiayi.gov.cn", "8002")


def build(*pairs: tuple[str, str], method: str = "INVITE", body: bytes = b"") -> Request:
    return Request(method, URI, tuple(make_header(n, v) for n, v in pairs), body)


BASE = (
    ("Via", "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKp, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1"),
    ("Via", "SIP/2.0/TCP 10.0.0.0;branch=z9hG4bK0"),
    ("From", '"夏邑" <sip:8001@xiayi.gov.cn>;tag=f1'),
    ("To", "<sip:8002@xiayi.gov.cn>"),
    ("Call-ID", "c1"),
    ("CSeq", "7 INVITE"),
    ("Max-Forwards", "70"),
    ("Timestamp", "54"),
    ("Route", "<sip:p1;lr>, <sip:p2;lr>"),
    ("Contact", "<sip:8001@10.0.0.1>"),
)


def test_accessors_on_a_built_request() -> None:
    request = build(*BASE)
    assert [v.host for v in request.vias()] == ["10.0.0.2", "10.0.0.1", "10.0.0.0"]
    assert request.top_via().branch == "z9hG4bKp"
    assert request.from_().display_name == "夏邑"
    assert request.to().tag is None
    assert request.call_id == "c1"
    assert request.cseq() == CSeq(7, "INVITE")
    assert request.max_forwards() == 70
    assert [r.sip_uri.host for r in request.routes()] == ["p1", "p2"]
    assert request.record_routes() == []
    assert request.record_routes() == []  # memoised
    assert request.contacts()[0].sip_uri.user == "8001"
    assert not request.is_wildcard_contact()
    assert request.header("VIA") == BASE[0][1]
    assert request.header("v") == BASE[0][1]
    assert request.header_lines("via") == [BASE[0][1], BASE[1][1]]
    assert len(request.header_values("via")) == 3
    assert request.has_header("route")
    assert not request.has_header("require")
    assert request.header("require") is None
    assert request.tokens("allow") == []
    assert request.expires() is None


def test_each_accessor_works_first_on_a_built_message() -> None:
    # Every accessor must build the memo itself when it is the first one called.
    readers: tuple[Callable[[Request], object], ...] = (
        lambda r: r.call_id,
        lambda r: r.header("call-id"),
        lambda r: r.top_via(),
        lambda r: r.cseq(),
        lambda r: r.from_(),
        lambda r: r.to(),
        lambda r: r.routes(),
        lambda r: r.contacts(),
        lambda r: r.record_routes(),
        lambda r: r.vias(),
    )
    for read in readers:
        assert read(build(*BASE)) == read(build(*BASE))


def test_missing_headers_raise_on_built_messages() -> None:
    empty = Request("OPTIONS", URI, ())
    for accessor, message in [
        (empty.top_via, "missing Via header"),
        (empty.from_, "missing From header"),
        (empty.to, "missing To header"),
        (empty.cseq, "missing CSeq header"),
        (lambda: empty.call_id, "missing Call-ID header"),
    ]:
        with pytest.raises(ParseError, match=f"^{message}$"):
            accessor()
    assert empty.max_forwards() is None
    assert empty.vias() == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3600", 3600), ("0", 0), ("4294967296", 4294967295), ("9" * 5000, 4294967295)],
)
def test_expires(value: str, expected: int) -> None:
    assert build(("Expires", value)).expires() == expected


@pytest.mark.parametrize("value", ["-1", "1h", "１"])
def test_malformed_expires(value: str) -> None:
    with pytest.raises(ParseError, match=f"^malformed Expires {value!r}$"):
        build(("Expires", value)).expires()


@pytest.mark.parametrize(
    ("value", "message"),
    [("300", "Max-Forwards 300 exceeds 255"), ("x", "malformed Max-Forwards 'x'")],
)
def test_malformed_max_forwards(value: str, message: str) -> None:
    with pytest.raises(ParseError, match=f"^{message}$"):
        build(("Max-Forwards", value)).max_forwards()


def test_tokens_and_wildcard() -> None:
    request = build(("Supported", "Path, GRUU"), ("Contact", "*"))
    assert request.tokens("k") == ["path", "gruu"]
    assert request.is_wildcard_contact()
    with pytest.raises(ParseError, match="^invalid URI '\\*': no scheme$"):
        request.contacts()


def test_make_response_copies_per_rfc_3261_8_2_6_2() -> None:
    request = build(*BASE)
    response = make_response(request, 486, to_tag="t9", headers=[("Retry-After", "60")])
    assert (response.status_code, response.reason) == (486, "Busy Here")
    assert [h.key for h in response.headers] == [
        "via",
        "via",
        "from",
        "to",
        "call-id",
        "cseq",
        "retry-after",
    ]
    assert response.to().tag == "t9"
    assert response.header_lines("via") == request.header_lines("via")
    assert response.header("from") == request.header("from")
    assert response.body == b""


def test_make_response_keeps_an_existing_to_tag_and_never_tags_a_100() -> None:
    tagged = build(*BASE).set_header("To", "<sip:8002@xiayi.gov.cn>;tag=old")
    assert make_response(tagged, 200, to_tag="new").to().tag == "old"
    trying = make_response(build(*BASE), 100, to_tag="new")
    assert trying.to().tag is None
    assert trying.header("timestamp") == "54"  # §8.2.6.1
    assert make_response(build(*BASE), 180, to_tag="x").header("timestamp") is None
    custom = make_response(build(*BASE), 200, "Fine", body=b"v=0\r\n")
    assert (custom.reason, custom.body, custom.is_success) == ("Fine", b"v=0\r\n", True)


def test_modification_helpers_return_new_messages() -> None:
    request = build(*BASE)
    via = Via("UDP", "192.0.2.9", 5060, (("branch", "z9hG4bKnew"),))
    forwarded = (
        request.prepend("Via", format_via(via))
        .set_header("Max-Forwards", "69")
        .pop_first_value("Route")
        .insert_first("Record-Route", "<sip:192.0.2.9;lr>")
        .append("X-Trace", "1")
        .remove("Timestamp")
    )
    assert forwarded.top_via() == via
    assert forwarded.max_forwards() == 69
    assert [r.sip_uri.host for r in forwarded.routes()] == ["p2"]
    assert forwarded.headers[0].name == "Record-Route"  # no Record-Route yet: first of all
    assert forwarded.header("x-trace") == "1"
    assert not forwarded.has_header("timestamp")
    assert request.max_forwards() == 70  # unchanged
    assert request.pop_first_value("Route").pop_first_value("Route").routes() == []
    assert request.pop_first_value("Require") is not None
    assert build(*BASE).insert_first("Via", "SIP/2.0/UDP x;branch=z9hG4bKx").top_via().host == "x"
    assert request.set_header("Subject", "hi").headers[-1] == Header("subject", "Subject", "hi")
    assert request.set_header("call-id", "c2").headers[4] == Header("call-id", "Call-ID", "c2")


def test_with_uri_and_body() -> None:
    request = build(*BASE)
    other = SipUri("sip", "10.0.0.9", "8002", port=5062)
    assert request.with_uri(other).uri == other
    with_body = request.with_body(b"v=0\r\n", "application/sdp")
    assert (with_body.body, with_body.header("content-type")) == (b"v=0\r\n", "application/sdp")
    assert request.with_body(b"x").header("content-type") is None
    assert request.with_headers(()).headers == ()


def test_response_helpers() -> None:
    response = make_response(build(*BASE), 200)
    assert response.prepend("X-A", "1").headers[0].name == "X-A"
    assert response.insert_first("Via", "SIP/2.0/UDP y").header_lines("via")[0] == "SIP/2.0/UDP y"
    assert response.set_header("CSeq", "8 INVITE").cseq() == CSeq(8, "INVITE")
    assert response.append("X-B", "2").headers[-1].value == "2"
    assert not response.remove("Via").has_header("via")
    assert len(response.pop_first_value("Via").vias()) == 2
    assert response.with_headers(()).headers == ()
    sdp = response.with_body(b"v=0\r\n", "application/sdp")
    assert (sdp.body, sdp.header("c")) == (b"v=0\r\n", "application/sdp")
    assert response.with_body(b"").body == b""


def test_serialisation_writes_the_true_content_length_last() -> None:
    request = build(("Call-ID", "c"), body=b"abc").append("Content-Length", "99").append("l", "1")
    data = bytes(request)
    assert data == (
        b"INVITE sip:8002@xiayi.gov.cn SIP/2.0\r\nCall-ID: c\r\nContent-Length: 3\r\n\r\nabc"
    )
    response = Response(200, "OK", (make_header("Call-ID", "c"),))
    assert bytes(response) == b"SIP/2.0 200 OK\r\nCall-ID: c\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("X-A", "a\r\nVia: x", "CR or LF in value of header X-A: 'a\\r\\nVia: x'"),
        ("X-A", "a\nb", "CR or LF in value of header X-A: 'a\\nb'"),
        ("X A", "b", "invalid header name 'X A'"),
        ("", "b", "invalid header name ''"),
    ],
)
def test_header_injection_is_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        build().append(name, value)
    assert str(caught.value) == message


def test_make_header_spelling_and_trimming() -> None:
    assert make_header("call-id", " x ") == Header("call-id", "Call-ID", "x")
    assert make_header("v", "y") == Header("via", "Via", "y")
    assert make_header("X-Custom", "z") == Header("x-custom", "X-Custom", "z")


def test_memo_does_not_take_part_in_equality_hash_repr_or_copies() -> None:
    parsed = parse_message(bytes(build(*BASE)))
    built = build(*BASE).remove("Content-Length")
    parsed.from_(), parsed.routes(), parsed.contacts()
    assert parsed == built
    assert hash(parsed) == hash(built)
    assert "_parsed" not in repr(parsed)
    assert "_parsed" not in [f.name for f in fields(Request)]
    for clone in (copy.copy(parsed), copy.deepcopy(parsed), pickle.loads(pickle.dumps(parsed))):
        assert clone == parsed
        assert clone.from_() == parsed.from_()
    changed = replace(parsed, headers=parsed.headers[1:])
    assert changed.top_via() != parsed.top_via()  # the copy did not inherit the memo


def test_fast_constructors_match_init() -> None:
    headers = (make_header("Call-ID", "c"),)
    memo = HeaderMemo()
    request = new_request("OPTIONS", URI, headers, b"", "SIP/2.0", memo)
    assert request == Request("OPTIONS", URI, headers)
    assert hash(request) == hash(Request("OPTIONS", URI, headers))
    response = new_response(200, "OK", headers, b"", "SIP/2.0", HeaderMemo())
    assert response == Response(200, "OK", headers)
    assert NameAddress(URI) == NameAddress(URI, None, ())

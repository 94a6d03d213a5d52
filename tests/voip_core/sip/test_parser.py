"""Parsing whole messages: ``voip_core/sip/parser.py``.

Covered: RFC 3261 §7.1/§7.2 start lines (method token, version syntax, 3-digit status
100-699, empty reason phrase), §7.3.1 folding, case-insensitive names, compact forms,
comma-separated vs repeated headers, unknown headers kept verbatim, §7.4/§18.3 bodies
framed by Content-Length (trailing octets of a datagram ignored, a short body is a 400,
no Content-Length means the rest of the datagram on UDP and an error on streams),
§7.5 leading CRLFs, §8.1.1 mandatory headers, §8.1.1.5 CSeq bound, §16.3 step 1
duplicates of single headers, §19.1.1 (no headers in a Request-URI), §20.22
Max-Forwards range; every ParseError raised after the header split carries
``raw_headers``, ``is_request`` and ``method``; the memo and line cache.
Left out: transport-specific size policy beyond MAX_MESSAGE_SIZE (adapters).
"""

from __future__ import annotations

import pytest

from voip_core.sip import parser
from voip_core.sip.exceptions import ParseError
from voip_core.sip.headers import CSeq, Header
from voip_core.sip.message import Request, Response
from voip_core.sip.parser import MAX_HEADERS, MAX_MESSAGE_SIZE, parse_message
from voip_core.sip.uri import SipUri

HEAD = (
    "INVITE sip:8002@xiayi.gov.cn SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:8001@xiayi.gov.cn>;tag=1\r\n"
    "To: <sip:8002@xiayi.gov.cn>\r\n"
    "Call-ID: c1@10.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
)


def wire(extra: str = "", body: bytes = b"", *, head: str = HEAD, length: bool = True) -> bytes:
    text = head + extra
    if length:
        text += f"Content-Length: {len(body)}\r\n"
    return (text + "\r\n").encode("utf-8") + body


def parse_request(data: bytes, *, stream: bool = False) -> Request:
    message = parse_message(data, stream=stream)
    assert isinstance(message, Request)
    return message


def fails(data: bytes, *, stream: bool = False) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_message(data, stream=stream)
    return caught.value


def test_typical_request() -> None:
    message = parse_request(wire(body=b"v=0\r\n"))
    assert message.method == "INVITE"
    assert message.uri == SipUri("sip", "xiayi.gov.cn", "8002")
    assert message.version == "SIP/2.0"
    assert message.body == b"v=0\r\n"
    assert message.header("content-length") is None  # framing, not content
    assert [h.name for h in message.headers][0] == "Via"
    assert message.cseq() == CSeq(1, "INVITE")


def test_typical_response() -> None:
    head = HEAD.replace("INVITE sip:8002@xiayi.gov.cn SIP/2.0", "SIP/2.0 180 Ringing")
    message = parse_message(wire(head=head))
    assert isinstance(message, Response)
    assert (message.status_code, message.reason) == (180, "Ringing")
    assert message.is_provisional
    assert not message.is_success


def test_empty_reason_phrase_with_or_without_the_space() -> None:
    for line in ("SIP/2.0 100 ", "SIP/2.0 100"):
        message = parse_message(wire(head=HEAD.replace(HEAD.split("\r\n")[0], line)))
        assert isinstance(message, Response)
        assert message.reason == ""


def test_leading_crlfs_are_ignored() -> None:
    assert parse_request(b"\r\n\r\n" + wire()).method == "INVITE"


def test_folding_compact_forms_and_case() -> None:
    head = (
        "OPTIONS sip:u@h SIP/2.0\r\n"
        "v: SIP/2.0/UDP h1;branch=z9hG4bK1\r\n"
        "VIA: SIP/2.0/UDP h2;branch=z9hG4bK2,\r\n SIP/2.0/UDP h3;branch=z9hG4bK3\r\n"
        "f: <sip:a@h>;tag=9\r\n"
        "t: sip:b@h\r\n"
        "i: abc\r\n"
        "cseq: 0009\r\n\tOPTIONS\r\n"
        "X-Note:   folded\r\n   value  \r\n"
    )
    message = parse_request(wire(head=head))
    assert [v.host for v in message.vias()] == ["h1", "h2", "h3"]
    assert message.call_id == "abc"
    assert message.cseq() == CSeq(9, "OPTIONS")
    assert message.header("x-note") == "folded value"
    assert message.header("X-NOTE") == "folded value"
    assert [h.name for h in message.headers][:2] == ["v", "VIA"]


def test_unknown_headers_and_utf8_values_are_kept_verbatim() -> None:
    message = parse_request(
        wire("X-Odd: ;;,,;;,;\r\nSubject: 夏邑县 会议\r\nC%6Fntact: <sip:x@y>\r\n")
    )
    assert message.header("x-odd") == ";;,,;;,;"
    assert message.header("subject") == "夏邑县 会议"
    assert message.header("c%6fntact") == "<sip:x@y>"
    assert message.contacts() == []
    assert b"Subject: \xe5\xa4\x8f\xe9\x82\x91\xe5\x8e\xbf" in bytes(message)


def test_chinese_display_name_survives_byte_exactly() -> None:
    header = '"夏邑县政府办公室" <sip:8001@xiayi.gov.cn>;tag=1'.encode()
    data = wire().replace(b"<sip:8001@xiayi.gov.cn>;tag=1", header)
    message = parse_request(data)
    assert message.from_().display_name == "夏邑县政府办公室"
    again = parse_message(bytes(message))
    assert again == message
    assert b"From: " + header + b"\r\n" in bytes(again)


def test_invalid_utf8_survives_unchanged() -> None:
    data = wire().replace(b"Content-Length", b"X-Raw: \xff\xfe\r\nContent-Length")
    message = parse_request(data)
    assert b"X-Raw: \xff\xfe\r\n" in bytes(message)


def test_body_framing_on_datagrams() -> None:
    trailing = parse_request(wire(body=b"abc") + b"INVITE sip:x@y SIP/2.0\r\n")
    assert trailing.body == b"abc"
    no_length = parse_request(wire(length=False) + b"rest of datagram")
    assert no_length.body == b"rest of datagram"
    error = fails(wire(body=b"abc")[:-1])
    assert str(error) == "Content-Length 3 larger than the 2-byte body"


def test_stream_frames_need_content_length() -> None:
    assert parse_request(wire(), stream=True).body == b""
    assert (
        str(fails(wire(length=False), stream=True))
        == "missing Content-Length on a stream transport"
    )


@pytest.mark.parametrize(
    "value",
    ["-1", "12345678901", "٣", "1 2", ""],
)
def test_malformed_content_length(value: str) -> None:
    error = fails(wire(f"Content-Length: {value}\r\n", length=False))
    assert str(error) == f"malformed Content-Length {value!r}"
    assert error.raw_headers


def test_two_content_lengths() -> None:
    assert str(fails(wire("l: 0\r\n"))) == "more than one Content-Length header"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("Max-Forwards: 256\r\n", "more than one Max-Forwards header"),
        ("Call-ID: again\r\n", "more than one Call-ID header"),
        ("To: <sip:c@h>\r\n", "more than one To header"),
        ("Expires: 1\r\nExpires: 2\r\n", "more than one Expires header"),
        ("NoColon\r\n", "malformed header line 'NoColon'"),
        ("Bad Name: x\r\n", "malformed header line 'Bad Name: x'"),
        (": x\r\n", "malformed header line ': x'"),
        ("Via\r\n", "malformed header line 'Via'"),
        ("X-A: a\nb\r\n", "bare CR or LF in header line 'X-A: a\\nb'"),
        ("X-A: a\rb\r\n", "bare CR or LF in header line 'X-A: a\\rb'"),
        ("Contact: *\r\nContact: <sip:a b>\r\n", "invalid character ' ' in SIP URI 'sip:a b'"),
        (
            "Route: <sip:p1;lr>, sip:p2?x\r\n",
            "URI with '?' not enclosed in '<>' in address 'sip:p2?x'",
        ),
        ("Record-Route: <sip:p1;lr\r\n", "missing '>' in address '<sip:p1;lr'"),
        ("Contact: <sip:a@h>,\r\n", "empty element in header list '<sip:a@h>,'"),
    ],
)
def test_header_errors(extra: str, message: str) -> None:
    error = fails(wire(extra))
    assert str(error) == message
    assert error.status_code == 400
    assert error.is_request
    assert error.method == "INVITE"
    assert error.raw_headers[0] == Header("via", "Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1")


def test_malformed_lines_are_left_out_of_raw_headers() -> None:
    error = fails(wire("X-A: a\nb\r\nNoColon\r\n"))
    assert str(error) == "bare CR or LF in header line 'X-A: a\\nb'"
    assert [h.name for h in error.raw_headers] == [
        "Via",
        "Max-Forwards",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Content-Length",
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("Max-Forwards: 70", "Max-Forwards: 256", "Max-Forwards 256 exceeds 255"),
        ("Max-Forwards: 70", "Max-Forwards: 7O", "malformed Max-Forwards '7O'"),
        ("Max-Forwards: 70", "Max-Forwards: ７", "malformed Max-Forwards '７'"),
        ("Call-ID: c1@10.0.0.1", "Call-ID: c 1", "malformed Call-ID 'c 1'"),
        ("Call-ID: c1@10.0.0.1", "Call-ID:", "malformed Call-ID ''"),
        ("CSeq: 1 INVITE", "CSeq: 2147483648 INVITE", "CSeq number '2147483648' exceeds 2**31-1"),
        (
            "CSeq: 1 INVITE",
            "CSeq: " + "9" * 5000 + " INVITE",
            "CSeq number '" + "9" * 30 + "'... exceeds 2**31-1",
        ),
        ("CSeq: 1 INVITE", "CSeq: INVITE", "malformed CSeq 'INVITE'"),
        ("CSeq: 1 INVITE", "CSeq: 1 BYE", "CSeq method BYE does not match request method INVITE"),
        ("Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n", "", "missing Via header"),
        (
            "To: <sip:8002@xiayi.gov.cn>\r\nCall-ID: c1@10.0.0.1\r\n",
            "",
            "missing To, Call-ID headers",
        ),
        (
            "From: <sip:8001@xiayi.gov.cn>;tag=1",
            "From: Bell, A <sip:a@h>",
            "invalid display name 'Bell, A'",
        ),
        (
            "sip:8002@xiayi.gov.cn SIP",
            "<sip:8002@xiayi.gov.cn> SIP",
            "Request-URI '<sip:8002@xiayi.gov.cn>' enclosed in '<>'",
        ),
        (
            "xiayi.gov.cn SIP/2.0",
            "xiayi.gov.cn?Route=x SIP/2.0",
            "Request-URI 'sip:8002@xiayi.gov.cn?Route=x' carries headers",
        ),
        ("SIP/2.0\r\n", "SIP/2.0a\r\n", "malformed SIP version 'SIP/2.0a'"),
        ("INVITE sip", "INV@ITE sip", "invalid method 'INV@ITE'"),
    ],
)
def test_request_errors(old: str, new: str, message: str) -> None:
    data = wire(head=HEAD.replace(old, new, 1))
    error = fails(data)
    assert str(error) == message
    assert error.is_request
    assert error.raw_headers


def test_cseq_mismatch_of_an_unregistered_method_is_a_501() -> None:
    head = HEAD.replace("INVITE sip", "NEWMETHOD sip")
    error = fails(wire(head=head))
    assert str(error) == "CSeq method INVITE does not match request method NEWMETHOD"
    assert (error.status_code, error.method) == (501, "NEWMETHOD")


def test_start_line_errors_keep_the_headers() -> None:
    error = fails(wire(head=HEAD.replace("INVITE sip:", "INVITE  sip:")))
    assert str(error) == "malformed start line 'INVITE  sip:8002@xiayi.gov.cn SIP/2.0'"
    assert (error.is_request, error.method) == (True, "INVITE")
    assert len(error.raw_headers) == 7
    odd = fails(wire(head=HEAD.replace("INVITE sip:", "IN@VITE  sip:")))
    assert (odd.is_request, odd.method) == (True, None)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("SIP/2.0 4294967301 big", "malformed start line 'SIP/2.0 4294967301 big'"),
        ("SIP/2.0 099 Low", "status code 099 outside 100-699"),
        ("SIP/2.0 700 High", "status code 700 outside 100-699"),
        ("SIP/2.X 200 OK", "malformed SIP version 'SIP/2.X'"),
        ("SIP/2.0 200 OK\x00", "malformed start line 'SIP/2.0 200 OK\\x00'"),
    ],
)
def test_response_errors(line: str, message: str) -> None:
    error = fails(wire(head=HEAD.replace(HEAD.split("\r\n")[0], line)))
    assert str(error) == message
    assert not error.is_request
    assert error.method is None


def test_errors_before_the_header_split() -> None:
    error = fails(b"x" * (MAX_MESSAGE_SIZE + 1))
    assert str(error) == f"message of {MAX_MESSAGE_SIZE + 1} bytes exceeds {MAX_MESSAGE_SIZE}"
    assert (error.status_code, error.raw_headers) == (513, ())
    truncated = fails(HEAD.encode())
    assert str(truncated) == "no empty line after the header fields"
    assert truncated.raw_headers[0].key == "via"
    assert truncated.method == "INVITE"
    bare = fails(b"INVITE sip:u@h SIP/2.0")
    assert (str(bare), bare.raw_headers, bare.is_request) == (
        "no empty line after the header fields",
        (),
        True,
    )


def test_continuation_before_any_header() -> None:
    error = fails(wire(head=HEAD.replace("\r\nVia:", "\r\n folded\r\nVia:", 1)))
    assert str(error) == "header continuation line before any header"


def test_header_count_is_bounded() -> None:
    extra = "".join(f"X-{i}: {i}\r\n" for i in range(MAX_HEADERS))
    error = fails(wire(extra))
    assert str(error) == f"more than {MAX_HEADERS} header fields"
    assert len(error.raw_headers) == MAX_HEADERS


def test_wildcard_contact_is_accepted_for_the_registrar_to_judge() -> None:
    message = parse_request(wire("Contact: *\r\nExpires: 0\r\n"))
    assert message.is_wildcard_contact()
    assert message.expires() == 0


def test_typed_values_are_memoised() -> None:
    message = parse_request(wire("Contact: <sip:a@h>\r\nRoute: <sip:p;lr>\r\n"))
    assert message.from_() is message.from_()
    assert message.cseq() is message.cseq()
    assert message.top_via() is message.vias()[0]
    assert message.contacts() == message.contacts()
    assert message.contacts() is not message.contacts()  # fresh lists, shared values
    assert message.routes()[0] is message.routes()[0]


def test_line_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser, "MAX_CACHED_LINES", 3)
    parser._LINE_CACHE.clear()
    first = parse_request(wire())
    assert len(parser._LINE_CACHE) <= 3
    assert parse_request(wire()) == first
    long_value = "x" * (parser.MAX_CACHED_LINE + 1)
    parse_request(wire(f"X-Long: {long_value}\r\n"))
    assert f"X-Long: {long_value}" not in parser._LINE_CACHE

"""SDP parse/serialise: ``voip_core/sip/sdp.py``.

Covered: RFC 4566 §5 line syntax (``<letter>=<value>``, v=0 first, CRLF or LF), §5.2
origin, §5.7 connection (IPv4 multicast TTL/count, IPv6 count), §5.14 media lines with
port counts, session vs media attributes in order, unknown lines kept verbatim, byte-exact
round trip, RFC 5118 §4.6/§4.8/§4.9 (IPv6, mixed families, IPv4-mapped), tolerated empty
``s=``. Left out: RFC 3264 offer/answer, b=/k=/r=/z= value syntax.
"""

from __future__ import annotations

import pytest

from voip_core.sip.exceptions import LocalProtocolError, ParseError
from voip_core.sip.sdp import (
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    parse_connection,
    parse_sdp,
    serialize_sdp,
)

OFFER = (
    b"v=0\r\n"
    b"o=8001 3456 3457 IN IP4 10.12.3.41\r\n"
    b"s=-\r\n"
    b"c=IN IP4 10.12.3.41\r\n"
    b"t=0 0\r\n"
    b"a=group:BUNDLE 0 1\r\n"
    b"m=audio 40000 RTP/AVP 8 0 101\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=sendrecv\r\n"
    b"m=video 40002/2 RTP/AVP 96\r\n"
    b"c=IN IP6 2001:db8::20\r\n"
    b"x=unknown line kept\r\n"
    b"a=rtpmap:96 H264/90000\r\n"
)


def test_offer_round_trips_byte_exactly() -> None:
    sdp = parse_sdp(OFFER)
    assert serialize_sdp(sdp) == OFFER
    assert parse_sdp(serialize_sdp(sdp)) == sdp
    assert parse_sdp(OFFER.decode()) == sdp


def test_typed_views() -> None:
    sdp = parse_sdp(OFFER)
    assert sdp.origin == Origin("8001", "3456", "3457", "IN", "IP4", "10.12.3.41")
    assert sdp.session_name == "-"
    assert sdp.connection == Connection("IN", "IP4", "10.12.3.41")
    assert sdp.attributes == (("group", "BUNDLE 0 1"),)
    audio, video = sdp.media
    assert (audio.media, audio.port, audio.port_count, audio.proto, audio.formats) == (
        "audio",
        40000,
        None,
        "RTP/AVP",
        ("8", "0", "101"),
    )
    assert audio.attribute("rtpmap") == "8 PCMA/8000"
    assert audio.attribute("sendrecv") == ""
    assert audio.attribute("fmtp") is None
    assert audio.connection is None
    assert sdp.media_connection(0) == sdp.connection
    assert (video.port, video.port_count) == (40002, 2)
    assert video.connection == Connection("IN", "IP6", "2001:db8::20")
    assert sdp.media_connection(1) == video.connection
    assert video.lines[1] == ("x", "unknown line kept")


def test_bare_lf_input_and_rfc_5118_quirks() -> None:
    sdp = parse_sdp(
        "v=0\no=bob 280744730 28977631 IN IP4 host.example.com\ns=\nt=0 0\n"
        "m=audio 22334 RTP/AVP 0\nc=IN IP4 192.0.2.1\n"
        "m=video 6024 RTP/AVP 107\nc=IN IP6 ::ffff:192.0.2.2\n"
    )
    assert sdp.session_name == ""
    assert sdp.connection is None
    assert [sdp.media_connection(i) for i in range(2)] == [
        Connection("IN", "IP4", "192.0.2.1"),
        Connection("IN", "IP6", "::ffff:192.0.2.2"),
    ]
    assert serialize_sdp(sdp).count(b"\r\n") == 8


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("IN IP4 224.2.1.1/127", Connection("IN", "IP4", "224.2.1.1", 127)),
        ("IN IP4 224.2.1.1/127/3", Connection("IN", "IP4", "224.2.1.1", 127, 3)),
        ("IN IP6 ff15::101/3", Connection("IN", "IP6", "ff15::101", None, 3)),
    ],
)
def test_multicast_connections(value: str, expected: Connection) -> None:
    assert parse_connection(value) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "SDP must start with v=0"),
        (b"o=x 1 1 IN IP4 h\r\n", "SDP must start with v=0"),
        (b"v=1\r\n", "SDP must start with v=0"),
        (b"v=0\r\nbad line\r\n", "malformed SDP line 'bad line'"),
        (b"v=0\r\nX=upper\r\n", "malformed SDP line 'X=upper'"),
        (b"v=0\r\na=x\rb\r\n", "malformed SDP line 'a=x\\rb'"),
        (b"v=0\r\no=only three fields\r\n", "malformed SDP origin 'only three fields'"),
        (b"v=0\r\nc=IN IP4\r\n", "malformed SDP connection 'IN IP4'"),
        (b"v=0\r\nc=IN IP6 ff15::1/3/2\r\n", "IPv6 SDP connection with a TTL 'IN IP6 ff15::1/3/2'"),
        (b"v=0\r\nm=audio\r\n", "malformed SDP media line 'audio'"),
        (b"v=0\r\nm=audio 70000 RTP/AVP 0\r\n", "SDP media port 70000 above 65535"),
        (
            b"v=0\r\nm=audio 999999 RTP/AVP 0\r\n",
            "malformed SDP media line 'audio 999999 RTP/AVP 0'",
        ),
    ],
)
def test_malformed_descriptions(data: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_sdp(data)
    assert str(caught.value) == message


def test_last_line_without_terminator() -> None:
    assert parse_sdp(b"v=0\r\ns=x").session_name == "x"


def test_missing_origin_is_reported_when_asked() -> None:
    sdp = parse_sdp(b"v=0\r\ns=-\r\n")
    with pytest.raises(ParseError, match="^SDP without o= line$"):
        _ = sdp.origin


def test_serialising_refuses_line_breaks_and_bad_types() -> None:
    with pytest.raises(LocalProtocolError, match="^invalid SDP line s='a\\\\r\\\\nb'$"):
        serialize_sdp(SessionDescription((("v", "0"), ("s", "a\r\nb"))))
    with pytest.raises(LocalProtocolError, match="^invalid SDP line ab='x'$"):
        serialize_sdp(SessionDescription((("v", "0"), ("ab", "x"))))


def test_built_description_serialises() -> None:
    media = MediaDescription("audio", 0, None, "RTP/AVP", ("0",), (("a", "inactive"),))
    sdp = SessionDescription((("v", "0"), ("o", "- 1 1 IN IP6 ::1"), ("s", " ")), (media,))
    data = serialize_sdp(sdp)
    assert data == b"v=0\r\no=- 1 1 IN IP6 ::1\r\ns= \r\nm=audio 0 RTP/AVP 0\r\na=inactive\r\n"
    assert parse_sdp(data) == sdp
    assert media.m_line == "audio 0 RTP/AVP 0"

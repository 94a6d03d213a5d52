"""Hypothesis properties of the SIP message layer (like hpack's and h11's fuzzing).

Covered:

- serialisation round trips for everything the API can build: ``parse_uri`` /
  ``serialize_uri`` (SIP with IPv4, IPv6, host names, escapes, parameters and headers;
  TEL; other schemes), ``parse_name_addr`` / ``serialize_name_addr`` (any UTF-8 display
  name, Chinese included, quoted parameter values), ``parse_via`` / ``serialize_via``,
  ``parse_sdp`` / ``serialize_sdp``, and whole requests and responses:
  ``parse_message(bytes(m)) == m``;
- robustness: any bytes, and valid messages mutated by byte flips, truncations,
  insertions and deletions, either parse or raise ``ParseError`` (never anything
  else), and ``make_error_response`` then builds a one-line reply or ``None``; the
  same for the value parsers on any text;
- framing: a stream of messages and keep-alives cut into random chunks yields exactly
  the messages; any chunked bytes yield frames or ``ParseError``, with the buffer bounded;
- the value caches change nothing: a parse after ``clear_caches()`` gives equal values;
- the digest parameter splitter's one-regex path agrees with its character loop;
- an edited copy answers every accessor as a fresh message with its lines would, although
  it carries over the memo of the message it was made from; several edits made at once
  (``with_edits``) equal the same edits one by one, and replacing the first element of a
  list header equals removing it and inserting the new one.

Failures found while writing these are pinned with ``@example``. Left out: the state
machine properties, which belong to the transaction layer.
"""

from __future__ import annotations

import contextlib
import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from voip_core.sip._memo import clear_caches
from voip_core.sip.address import NameAddress, parse_name_addr, serialize_name_addr
from voip_core.sip.digest import codec
from voip_core.sip.exceptions import ParseError
from voip_core.sip.framer import StreamFramer
from voip_core.sip.grammar import quote_string
from voip_core.sip.headers import Header, make_header, parse_cseq
from voip_core.sip.message import Request, Response
from voip_core.sip.parser import parse_message
from voip_core.sip.reply import MAX_REASON_LENGTH, make_error_response
from voip_core.sip.sdp import MediaDescription, SessionDescription, parse_sdp, serialize_sdp
from voip_core.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri, serialize_uri
from voip_core.sip.via import Via, parse_via, serialize_via

#: ``SIP_PROPERTY_EXAMPLES=5000`` runs a deeper search than the default suite does.
SETTINGS = settings(
    max_examples=int(os.environ.get("SIP_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- building blocks (RFC 3261 §25.1) ---------------------------------------------------------

TOKEN = st.from_regex(r"[A-Za-z0-9\-.!%*_+`'~]{1,10}", fullmatch=True)
LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?"
TOPLABEL = r"[a-zA-Z](?:[a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?"
HOSTNAME = st.from_regex(rf"(?:{LABEL}\.){{0,3}}{TOPLABEL}\.?", fullmatch=True)
IPV4 = st.ip_addresses(v=4).map(str)
IPV6 = st.ip_addresses(v=6).map(lambda address: f"[{address}]")
HOST = st.one_of(HOSTNAME, IPV4, IPV6)
PORT = st.none() | st.integers(0, 65535)


def escaped_run(plain: str, *, min_size: int = 1) -> st.SearchStrategy[str]:
    """Characters from ``plain`` mixed with %HH escapes of any octet (NUL included)."""
    escape = st.integers(0, 255).map(lambda octet: f"%{octet:02X}")
    return st.lists(st.sampled_from(plain) | escape, min_size=min_size, max_size=8).map("".join)


USER = escaped_run("abcXYZ019-_.!~*'()&=+$,;?/")
PASSWORD = escaped_run("abcXYZ019-_.!~*'()&=+$,", min_size=0)
PARAMCHAR = escaped_run("abcXYZ019-_.!~*'()[]/:&+$")
HNVCHAR = "abcXYZ019-_.!~*'()[]/?:+$"
URI_PARAMS = st.lists(st.tuples(PARAMCHAR, st.none() | PARAMCHAR), max_size=3).map(tuple)
URI_HEADERS = st.lists(
    st.tuples(escaped_run(HNVCHAR), escaped_run(HNVCHAR, min_size=0)), max_size=2
).map(tuple)


@st.composite
def sip_uris(draw: st.DrawFn, *, headers: bool = True) -> SipUri:
    user = draw(st.none() | USER)
    return SipUri(
        scheme=draw(st.sampled_from(["sip", "sips"])),
        host=draw(HOST),
        user=user,
        password=None if user is None else draw(st.none() | PASSWORD),
        port=draw(PORT),
        params=draw(URI_PARAMS),
        headers=draw(URI_HEADERS) if headers else (),
    )


TEL_URIS = st.builds(TelUri, st.from_regex(r"\+?[0-9*#\-.()]{1,12}", fullmatch=True), URI_PARAMS)
ABSOLUTE_URIS = st.builds(
    AbsoluteUri,
    st.from_regex(r"[a-z][a-z0-9+.\-]{0,6}", fullmatch=True).filter(
        lambda scheme: scheme not in ("sip", "sips", "tel")
    ),
    st.from_regex(r"[A-Za-z0-9:/._~!$&'()*+,;=@%?\-]{1,16}", fullmatch=True),
)
URIS: st.SearchStrategy[Uri] = st.one_of(sip_uris(), TEL_URIS, ABSOLUTE_URIS)

# Any Unicode text a person's name may hold (Chinese, quotes, backslashes, controls),
# except CR and LF, which a quoted-string cannot carry, and lone surrogates.
NAME_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=12
)
CHINESE_NAMES = st.sampled_from(["夏邑县政府办公室", "县长热线", "王小明", "办公室 2"])
GEN_VALUE = st.one_of(
    st.from_regex(r"[A-Za-z0-9\-.!%*_+`'~:]{1,10}", fullmatch=True),
    IPV6,
    NAME_TEXT.map(quote_string),
)
HEADER_PARAMS = st.lists(st.tuples(TOKEN, st.none() | GEN_VALUE), max_size=3).map(tuple)
ADDRESSES = st.builds(NameAddress, URIS, st.none() | NAME_TEXT | CHINESE_NAMES, HEADER_PARAMS)
VALUED = {"branch", "received", "ttl", "maddr"}
VIA_PARAMS = st.lists(st.tuples(TOKEN, st.none() | GEN_VALUE), max_size=3).map(
    lambda items: tuple((n, v) for n, v in items if v is not None or n.lower() not in VALUED)
)
VIAS = st.builds(
    Via,
    TOKEN.map(str.upper),
    HOST,
    PORT,
    VIA_PARAMS,
    st.sampled_from(["SIP/2.0", "SIP/3.1"]),
)

# -- value round trips -------------------------------------------------------------------------


@SETTINGS
@given(URIS)
@example(SipUri("sip", "[::ffff:192.0.2.1]", "%00", "", 0, (("%6C%72", None),), (("a", ""),)))
def test_uri_round_trip(uri: Uri) -> None:
    assert parse_uri(serialize_uri(uri)) == uri
    clear_caches()
    assert parse_uri(serialize_uri(uri)) == uri


@SETTINGS
@given(ADDRESSES)
@example(NameAddress(SipUri("sip", "h"), "夏邑县政府办公室", (("tag", '"\\"x"'),)))
@example(NameAddress(SipUri("sip", "h"), "", ()))
@example(NameAddress(TelUri("0"), None, (("0", '"\\\\"'), ("0", "[::1]"), ("0", None))))
@example(NameAddress(SipUri("sip", "h"), ' a "b" \\ ', ()))
def test_name_addr_round_trip(address: NameAddress) -> None:
    text = serialize_name_addr(address)
    assert parse_name_addr(text) == address
    clear_caches()
    assert parse_name_addr(text) == address


@SETTINGS
@given(VIAS)
def test_via_round_trip(via: Via) -> None:
    assert parse_via(serialize_via(via)) == [via]


SDP_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=15
)
SDP_LINES = st.lists(st.tuples(st.sampled_from("ibetrzkau"), SDP_TEXT), max_size=4)
CONNECTIONS = st.one_of(
    IPV4.map(lambda address: ("c", f"IN IP4 {address}")),
    st.ip_addresses(v=6).map(lambda address: ("c", f"IN IP6 {address}")),
)


@st.composite
def sdps(draw: st.DrawFn) -> SessionDescription:
    session = [("v", "0"), ("o", f"- {draw(st.integers(0, 2**40))} 1 IN IP4 host"), ("s", "-")]
    session += draw(SDP_LINES) + draw(st.lists(CONNECTIONS, max_size=1))
    media = [
        MediaDescription(
            draw(st.sampled_from(["audio", "video", "application"])),
            draw(st.integers(0, 65535)),
            draw(st.none() | st.integers(1, 99)),
            draw(st.sampled_from(["RTP/AVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVPF"])),
            tuple(draw(st.lists(st.from_regex(r"[0-9]{1,3}", fullmatch=True), max_size=4))),
            tuple(draw(SDP_LINES) + draw(st.lists(CONNECTIONS, max_size=1))),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return SessionDescription(tuple(session), tuple(media))


@SETTINGS
@given(sdps())
def test_sdp_round_trip(sdp: SessionDescription) -> None:
    data = serialize_sdp(sdp)
    assert parse_sdp(data) == sdp
    assert serialize_sdp(parse_sdp(data)) == data


# -- messages ----------------------------------------------------------------------------------

METHODS = st.sampled_from(["INVITE", "REGISTER", "BYE", "OPTIONS", "ACK"]) | TOKEN
UNKNOWN_VALUE = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=20
).map(lambda value: value.strip(" \t"))


@st.composite
def header_sets(draw: st.DrawFn, method: str) -> tuple[Header, ...]:
    headers = [
        make_header("Via", serialize_via(via))
        for via in draw(st.lists(VIAS, min_size=1, max_size=3))
    ]
    headers.append(make_header("From", serialize_name_addr(draw(ADDRESSES))))
    headers.append(make_header("To", serialize_name_addr(draw(ADDRESSES))))
    headers.append(
        make_header(
            "Call-ID",
            draw(
                st.from_regex(
                    r"[A-Za-z0-9.!%*_+`'~()<>:\\\"/\[\]?{}-]{1,20}(?:@[a-z0-9.]{1,10})?",
                    fullmatch=True,
                )
            ),
        )
    )
    headers.append(make_header("CSeq", f"{draw(st.integers(0, 2**31 - 1))} {method}"))
    if draw(st.booleans()):
        headers.append(make_header("Max-Forwards", str(draw(st.integers(0, 255)))))
    for name in ("Contact", "Route", "Record-Route"):
        values = draw(st.lists(ADDRESSES, max_size=2))
        if values:
            headers.append(make_header(name, ", ".join(map(serialize_name_addr, values))))
    for _ in range(draw(st.integers(0, 3))):
        headers.append(make_header("X-" + draw(TOKEN), draw(UNKNOWN_VALUE)))
    order = draw(st.permutations(range(len(headers))))
    return tuple(headers[index] for index in order)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(METHODS)
    uri = draw(st.one_of(sip_uris(headers=False), TEL_URIS, ABSOLUTE_URIS))
    return Request(method, uri, draw(header_sets(method)), draw(st.binary(max_size=40)))


@st.composite
def responses(draw: st.DrawFn) -> Response:
    reason = draw(
        st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=20)
        | st.sampled_from(["OK", "会议已满", ""])
    )
    method = draw(METHODS)
    return Response(
        draw(st.integers(100, 699)), reason, draw(header_sets(method)), draw(st.binary(max_size=40))
    )


MESSAGES = st.one_of(requests(), responses())


@SETTINGS
@given(MESSAGES)
def test_message_round_trip(message: Request | Response) -> None:
    data = bytes(message)
    assert parse_message(data) == message
    assert parse_message(data, stream=True) == message
    clear_caches()
    assert parse_message(data) == message


def _accessors(message: Request | Response) -> tuple[object, ...]:
    """Everything the typed accessors answer, errors included as their text."""
    answers: list[object] = []
    for read in (
        lambda: message.vias(),
        lambda: message.from_(),
        lambda: message.to(),
        lambda: message.call_id,
        lambda: message.cseq(),
        lambda: message.max_forwards(),
        lambda: message.contacts(),
        lambda: message.routes(),
        lambda: message.record_routes(),
        lambda: [message.header_lines(name) for name in ("Via", "Route", "X-A", "Contact")],
        lambda: [message.has_header(name) for name in ("Via", "Route", "X-A", "Contact")],
    ):
        try:
            answers.append(read())
        except ParseError as error:
            answers.append(str(error))
    return tuple(answers)


EDIT_NAMES = st.sampled_from(["Via", "v", "Route", "Record-Route", "Contact", "m", "CSeq", "X-A"])
EDIT_VALUES = st.sampled_from(
    ["SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx", "<sip:a@b;lr>, <sip:c@d;lr>", "7 INVITE", ""]
)


@SETTINGS
@given(
    MESSAGES,
    st.sampled_from(["prepend", "insert_first", "set_header", "append", "remove", "pop"]),
    EDIT_NAMES,
    EDIT_VALUES,
)
def test_edits_carry_over_only_what_they_cannot_change(
    message: Request | Response, edit: str, name: str, value: str
) -> None:
    parsed = parse_message(bytes(message))
    _accessors(parsed)  # fill the memo the copy inherits
    if edit == "remove":
        copy = parsed.remove(name)
    elif edit == "pop":
        try:
            copy = parsed.pop_first_value(name)
        except ParseError:
            return  # an unsplittable list (the generated values never are)
    else:
        copy = getattr(parsed, edit)(name, value)
    fresh = copy.with_headers(copy.headers)  # same lines, empty memo
    assert _accessors(copy) == _accessors(fresh)


@SETTINGS
@given(
    MESSAGES,
    st.lists(st.tuples(EDIT_NAMES, EDIT_VALUES), max_size=3),
    st.lists(st.tuples(EDIT_NAMES, EDIT_VALUES), max_size=3),
)
def test_several_edits_at_once_equal_the_single_edits(
    message: Request | Response,
    replace: list[tuple[str, str]],
    prepend: list[tuple[str, str]],
) -> None:
    parsed = parse_message(bytes(message))
    if not isinstance(parsed, Request):
        return
    _accessors(parsed)
    uri = parse_uri("sip:8001@10.0.0.9:5062")
    copy = parsed.with_edits(uri=uri, replace=replace, prepend=prepend)
    one_by_one = parsed.with_uri(uri)
    for name, value in replace:
        one_by_one = one_by_one.set_header(name, value)
    for name, value in reversed(prepend):
        one_by_one = one_by_one.prepend(name, value)
    assert copy == one_by_one
    assert _accessors(copy) == _accessors(copy.with_headers(copy.headers))


@SETTINGS
@given(MESSAGES, EDIT_NAMES, EDIT_VALUES.filter(bool))  # one element, never an empty one
def test_replacing_the_first_value_keeps_the_others(
    message: Request | Response, name: str, value: str
) -> None:
    parsed = parse_message(bytes(message))
    if not isinstance(parsed, Request):
        return
    _accessors(parsed)
    try:
        expected = parsed.pop_first_value(name).insert_first(name, value)
    except ParseError:
        return  # an unsplittable list (the generated values never are)
    copy = parsed.replace_first_value(name, value)
    assert _accessors(copy) == _accessors(copy.with_headers(copy.headers))
    # the same elements in the same order, whether on one line or two
    assert _accessors(copy)[:-2] == _accessors(expected)[:-2]


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            ["username", "nc", "A-b", "=", '"', "\\", ",", " ", "\t", "x", '"a\\"b"', "é", "\n"]
        ),
        max_size=14,
    ).map("".join)
)
def test_digest_parameters_fast_path_agrees_with_the_loop(text: str) -> None:
    fast = codec._split_params_fast(text)
    try:
        slow: object = codec._split_params(text, "Authorization")
    except ParseError:
        slow = None  # the fast path must give up and let the loop name the problem
    assert fast == slow


# -- robustness --------------------------------------------------------------------------------


def parses_or_fails_cleanly(data: bytes) -> None:
    try:
        parse_message(data)
    except ParseError as error:
        reply = make_error_response(error)
        if reply is not None:
            wire = bytes(reply)
            assert wire.count(b"\r\n\r\n") >= 1
            assert "\r" not in reply.reason
            assert "\n" not in reply.reason
            assert len(reply.reason) <= MAX_REASON_LENGTH


@SETTINGS
@given(st.binary(max_size=600))
@example(b"INVITE sip:a@b SIP/2.0\r\nMax-Forwards: \xc2\xb2\r\n\r\n")
@example(b"SIP/2.0 200 OK\r\nCSeq: " + b"9" * 5000 + b" INVITE\r\n\r\n")
@example(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n")
@example(b"INVITE sip:a@b:" + b"9" * 5000 + b" SIP/2.0\r\nVia: x\r\n\r\n")
def test_any_bytes_parse_or_raise_parse_error(data: bytes) -> None:
    parses_or_fails_cleanly(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(bytes(draw(MESSAGES)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "duplicate"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[position:]
        elif kind == "insert":
            data[position:position] = draw(
                st.binary(min_size=1, max_size=8)
                | st.sampled_from([b"\r\n", b" ", b",", b";", b"\r\n "])
            )
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 40))]
    return bytes(data)


@SETTINGS
@given(mutated())
def test_mutated_messages_parse_or_raise_parse_error(data: bytes) -> None:
    parses_or_fails_cleanly(data)


@SETTINGS
@given(st.text(max_size=80))
@example("sip:[::1]:" + "9" * 5000)
@example("<sip:a@h>;" + "x" * 300)
def test_value_parsers_raise_only_parse_error(text: str) -> None:
    for parse in (parse_uri, parse_name_addr, parse_via, parse_cseq, parse_sdp):
        with contextlib.suppress(ParseError):
            parse(text)


# -- stream framing ----------------------------------------------------------------------------


@SETTINGS
@given(
    st.lists(MESSAGES, min_size=1, max_size=3),
    st.lists(st.sampled_from([b"", b"", b"\r\n", b"\r\n\r\n"]), min_size=3, max_size=3),
    st.lists(st.integers(1, 200), min_size=1, max_size=40),
)
def test_framer_rebuilds_the_messages_from_any_chunking(
    messages: list[Request | Response], keepalives: list[bytes], sizes: list[int]
) -> None:
    wires = [bytes(message) for message in messages]
    stream = b"".join(keepalive + wire for keepalive, wire in zip(keepalives, wires, strict=False))
    framer = StreamFramer()
    frames: list[bytes] = []
    offset = 0
    index = 0
    while offset < len(stream):
        size = sizes[index % len(sizes)]
        framer.feed(stream[offset : offset + size])
        offset += size
        index += 1
        while (frame := framer.next_frame()) is not None:
            frames.append(frame)
    assert frames == wires
    assert framer.buffered == 0
    assert [parse_message(frame, stream=True) for frame in frames] == messages


@SETTINGS
@given(st.lists(st.binary(max_size=300), max_size=8))
@example([b"\r\n\r", b"\nINVITE sip:a@b SIP/2.0\r\nl: 2\r\n\r\nab"])
def test_framer_on_any_bytes_yields_frames_or_parse_error(chunks: list[bytes]) -> None:
    framer = StreamFramer(max_message_size=512)
    try:
        for chunk in chunks:
            framer.feed(chunk)
            while (frame := framer.next_frame()) is not None:
                assert len(frame) <= 512
            assert framer.buffered <= 2 * 512
    except ParseError:
        pass

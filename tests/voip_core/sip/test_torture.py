"""RFC 4475 and RFC 5118 torture messages against the message layer.

Every fixture in ``tests/data/torture/{valid,invalid}`` (format in its README) is
asserted here, and a test fails if a fixture has no expectation or an expectation no
fixture. For each message the test says which layer decides:

- **parser**: :func:`parse_message` raises :class:`ParseError` with the exact text
  below; :func:`make_error_response` then answers ``error.status_code`` (or nothing, for
  responses and requests without a usable Via);
- **accepted**: the message parses, and the accessors the proxy and registrar use give
  the values below; where the RFC expects a non-2xx answer anyway, the test names the
  layer that must give it (proxy §16.3 validation, registrar, UAS) and the code.

Covered: RFC 4475 §3.1.1 (valid), §3.1.2 (invalid), §3.2 (transaction-layer case
badbranch: parses), §3.3 (application layer), §3.4 (RFC 2543 compatibility), the
unreferenced test.dat, RFC 5118 §4.1-§4.10, and stream framing of clerr, ncl, mcl01,
dblreq and inv2543 (RFC 3261 §18.3). Left out: the replies of the later layers
themselves (tested with those layers) and timing (the transaction layer's).

Deliberate choices, where the RFCs allow several reactions: escruri, regbadct, lwsruri,
lwsstart, trws, badaspec, baddn and quotbal are rejected (400), not repaired; baddate is
accepted (Date is not interpreted); the RFC 5118 §4.10 three-colon address is tolerated.
Unlike a bare "parse it, validate later", the parser itself rejects mismatch02 with 501
(the proxy forwards unknown methods, so it must not see it), and bigcode (status code
above 699) and scalarlg (CSeq above 2**31-1) as malformed responses, which drops them
as RFC 4475 asks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from voip_core.sip.address import NameAddress
from voip_core.sip.exceptions import ParseError
from voip_core.sip.framer import StreamFramer
from voip_core.sip.headers import CSeq
from voip_core.sip.message import Request, Response
from voip_core.sip.parser import parse_message
from voip_core.sip.reply import make_error_response
from voip_core.sip.sdp import parse_sdp
from voip_core.sip.uri import AbsoluteUri, SipUri, parse_uri, uri_equal

DATA = Path(__file__).resolve().parents[2] / "data" / "torture"
_OCTET = re.compile(rb"\$\{([0-9A-F]{2})\}")


def load(kind: str, name: str) -> bytes:
    """The wire bytes of fixture ``name`` (see tests/data/torture/README.md)."""
    text = (DATA / kind / f"{name}.sip").read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    while lines[0].startswith("#"):
        del lines[0]
    wire = "\r\n".join(lines).encode("utf-8")
    return _OCTET.sub(lambda match: bytes([int(match.group(1), 16)]), wire)


def request(name: str, kind: str = "valid") -> Request:
    message = parse_message(load(kind, name))
    assert isinstance(message, Request)
    assert parse_message(bytes(message)) == message  # serialise/parse round trip
    return message


def sip(address: NameAddress) -> SipUri:
    assert isinstance(address.uri, SipUri)
    return address.uri


# -- RFC 4475 §3.1.1: valid messages ------------------------------------------------------


def check_wsinv(m: Request) -> None:
    assert m.method == "INVITE"
    assert m.uri == SipUri(
        "sip", "chair-dnrc.example.com", "vivekg", params=(("unknownparam", None),)
    )
    to = m.to()
    assert (sip(to).user, to.tag, to.display_name) == ("vivekg", "1918181833n", None)
    assert m.from_().display_name == 'J Rosenberg \\"'
    assert m.from_().tag == "98asjd8"
    assert m.max_forwards() == 68
    assert m.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert m.cseq() == CSeq(9, "INVITE")
    assert [(v.transport, v.host, v.branch) for v in m.vias()] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert m.header("subject") == ""
    assert m.header("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.header("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (route,) = m.routes()
    assert sip(route).params == (("lr", None), ("unknownwith", "value"), ("unknown-no-value", None))
    (contact,) = m.contacts()
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == (("newparam", "newvalue"), ("secondparam", None), ("q", "0.33"))
    assert len(m.body) == 150


def check_intmeth(m: Request) -> None:
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert m.method == method
    assert m.cseq() == CSeq(139122385, method)
    assert isinstance(m.uri, SipUri)
    assert m.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert m.to().display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert sip(m.to()).user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.from_().display_name == "token1~` token2'+_ token3*%!.-"
    assert m.from_().param("fromParam''~+*_!.-%") == '"работающий"'
    assert m.from_().tag == "_token~1'+`*%!-."
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.max_forwards() == 255
    assert m.header("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    assert m.top_via().branch == "z9hG4bK-.!%66*_+`'~"


def check_esc01(m: Request) -> None:
    assert isinstance(m.uri, SipUri)
    assert m.uri.user == "sips%3Auser%40example.com"
    assert m.uri.user_unescaped == "sips:user@example.com"
    assert sip(m.to()).user_unescaped == "user"
    assert sip(m.from_()).user_unescaped == "I have spaces"
    assert m.call_id == "esc01.239409asdfakjkn23onasd0-3234"
    assert m.header("Content-Type") == "application/sdp"
    contact = sip(m.contacts()[0])
    assert contact.user_unescaped == "caller"
    assert contact.params == (("%6C%72", None), ("n%61me", "v%61lue%25%34%31"))
    assert contact.is_loose_router
    assert contact.param_unescaped("name") == "value%41"  # decoded once, not twice
    assert uri_equal(contact, parse_uri("sip:caller@host5.example.net;lr;name=value%2541"))


def check_escnull(m: Request) -> None:
    assert sip(m.to()).user_unescaped == "null-\x00-null"
    assert sip(m.from_()).user_unescaped == "null-\x00-null"
    assert m.from_().tag == "839923423"
    assert [sip(c).user_unescaped for c in m.contacts()] == ["\x00", "\x00\x00"]


def check_esc02(m: Request) -> None:
    assert m.method == "RE%47IST%45R"  # an unknown method, not REGISTER
    assert m.cseq().method == "RE%47IST%45R"
    assert m.to().display_name == "%Z%45"  # quoted strings know no %-escapes
    assert m.from_().display_name == "%Z%45"
    assert [sip(c).host for c in m.contacts()] == ["host1.example.com", "host3.example.com"]
    assert m.header("C%6Fntact") == "<sip:alias2@host2.example.com>"  # unknown, verbatim
    assert m.top_via().branch == "z9hG4bK209%fzsnel234"


def check_lwsdisp(m: Request) -> None:
    assert (m.from_().display_name, m.from_().tag) == ("caller", "323")
    assert m.to().display_name is None


def check_longreq(m: Request) -> None:
    assert m.to().display_name == "I have a user name of " + "extreme" * 10 + " proportion"
    assert sip(m.to()).port == 6000
    assert sip(m.to()).param("longparamname" + "name" * 24) == "shortvalue"
    assert m.from_().tag == "1" + "298" * 50 + "2424"
    assert len(m.vias()) == 34
    assert m.top_via().host == "sip33.example.com"
    assert m.call_id.startswith("longreq.one")


def check_dblreq(m: Request) -> None:
    assert m.method == "REGISTER"
    assert m.body == b""
    assert m.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    assert b"INVITE" not in bytes(m)  # the trailing octets are gone for good


def check_semiuri(m: Request) -> None:
    assert isinstance(m.uri, SipUri)
    assert (m.uri.user, m.uri.host, m.uri.params) == ("user;par=u%40example.net", "example.com", ())
    assert m.uri.user_unescaped == "user;par=u@example.net"
    assert m.header_values("accept") == [
        "application/sdp",
        "application/pkcs7-mime",
        "multipart/mixed",
        "multipart/signed",
        "message/sip",
        "message/sipfrag",
    ]


def check_transports(m: Request) -> None:
    assert [v.transport for v in m.vias()] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def check_mpart01(m: Request) -> None:
    assert len(m.body) == 553
    assert b"\x00" in m.body
    (route,) = m.routes()
    assert (sip(route).host, sip(route).port, sip(route).is_loose_router) == (
        "127.0.0.1",
        5080,
        False,
    )


def check_unreason(m: Response) -> None:
    assert m.status_code == 200
    assert m.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"


def check_noreason(m: Response) -> None:
    assert (m.status_code, m.reason) == (100, "")


# -- RFC 4475 §3.2 - §3.4 and RFC 5118 §4 ----------------------------------------------------


def check_badbranch(m: Request) -> None:
    # Parses; the transaction layer falls back to RFC 2543 matching or answers 400.
    assert m.top_via().branch == "z9hG4bK"


def check_unkscm(m: Request) -> None:
    # Proxy §16.3 step 2 answers 416 Unsupported URI Scheme.
    assert m.uri == AbsoluteUri("nobodyKnowsThisScheme", "totallyopaquecontent")


def check_novelsc(m: Request) -> None:
    # Proxy §16.3 step 2 answers 416.
    assert m.uri == AbsoluteUri("soap.beep", "//192.0.2.103:3002")


def check_unksm2(m: Request) -> None:
    # A proxy routes it; the registrar answers 400: To must be a SIP AOR (To.sip_uri raises).
    assert m.to().uri == AbsoluteUri("isbn", "2983792873")
    assert m.from_().uri == AbsoluteUri("http", "//www.example.com")
    assert m.contacts()[0].uri == AbsoluteUri("name", "John_Smith")
    with pytest.raises(ParseError, match="SIP URI expected, got 'isbn:2983792873'"):
        _ = m.to().sip_uri


def check_bext01(m: Request) -> None:
    # Proxy §16.3 step 5 (Proxy-Require) or UAS §8.2.2.3 (Require) answers 420.
    assert m.tokens("require") == ["nothingsupportsthis", "nothingsupportsthiseither"]
    assert m.header_values("proxy-require") == [
        "noProxiesSupportThis",
        "norDoAnyProxiesSupportThis",
    ]


def check_invut(m: Request) -> None:
    # A proxy forwards it; a UAS would answer 415.
    assert m.header("content-type") == "application/unknownformat"


def check_regaut01(m: Request) -> None:
    # The registrar challenges with 401 in a scheme it knows (or registers: 200).
    assert m.header("authorization") == "NoOneKnowsThisScheme opaque-data=here"


def check_bcast(m: Response) -> None:
    # The proxy must drop, not forward to, a broadcast second Via.
    assert m.vias()[1].host == "255.255.255.255"


def check_zeromf(m: Request) -> None:
    # Proxy §16.3 step 3 answers 483 (or 200 as the OPTIONS' final recipient).
    assert m.max_forwards() == 0


def check_cparam01(m: Request) -> None:
    (contact,) = m.contacts()
    assert (sip(contact).params, contact.params) == ((), (("unknownparam", None),))


def check_cparam02(m: Request) -> None:
    (contact,) = m.contacts()
    assert (sip(contact).params, contact.params) == ((("unknownparam", None),), ())


def check_regescrt(m: Request) -> None:
    (contact,) = m.contacts()
    assert sip(contact).headers == (("Route", "%3Csip:sip.example.com%3E"),)


def check_sdp01(m: Request) -> None:
    # A UAS answers 406 Not Acceptable; a proxy routes it.
    assert m.header("accept") == "text/nobodyKnowsThis"


def check_inv2543(m: Request) -> None:
    assert m.top_via().branch is None
    assert m.from_().tag is None
    assert m.max_forwards() is None
    assert m.body.startswith(b"v=0\r\n")
    assert m.body.endswith(b"RTP/AVP 0\r\n")
    assert m.to().params == (("user", "phone"),)  # addr-spec: a header parameter
    assert sip(m.record_routes()[0]).param("maddr") == "ss1.example.com"


def check_ipv6_good(m: Request) -> None:
    assert isinstance(m.uri, SipUri)
    assert m.uri.host == "[2001:db8::10]"
    assert m.top_via().host == "[2001:db8::9:1]"
    (contact,) = m.contacts()
    assert (contact.display_name, sip(contact).host) == ("Caller", "[2001:db8::1]")


def check_port_ambiguous(m: Request) -> None:
    assert isinstance(m.uri, SipUri)
    assert (m.uri.host, m.uri.port) == ("[2001:db8::10:5070]", None)


def check_port_unambiguous(m: Request) -> None:
    assert isinstance(m.uri, SipUri)
    assert (m.uri.host, m.uri.port) == ("[2001:db8::10]", 5070)


def check_received_with_delim(m: Request) -> None:
    assert m.top_via().received == "[2001:db8::9:255]"


def check_received_no_delim(m: Request) -> None:
    assert m.top_via().received == "2001:db8::9:255"


def check_ipv6_in_sdp(m: Request) -> None:
    sdp = parse_sdp(m.body)
    assert sdp.connection is not None
    assert (sdp.connection.addr_type, sdp.connection.address) == ("IP6", "2001:db8::20")
    assert [media.media for media in sdp.media] == ["audio", "video"]


def check_mult_ip_in_header(m: Request) -> None:
    assert [(v.transport, v.host, v.port) for v in m.vias()] == [
        ("UDP", "[2001:db8::9:1]", 6050),
        ("UDP", "192.0.2.1", None),
        ("TCP", "[2001:db8::9:255]", None),
    ]
    assert m.vias()[2].received == "192.0.2.200"


def check_mult_ip_in_sdp(m: Request) -> None:
    sdp = parse_sdp(m.body)
    assert sdp.session_name == ""
    addresses = [sdp.media_connection(i) for i in range(2)]
    assert [(c.addr_type, c.address) for c in addresses if c] == [
        ("IP4", "192.0.2.1"),
        ("IP6", "2001:db8::1"),
    ]


def check_ipv4_mapped(m: Request) -> None:
    assert (m.top_via().host, m.top_via().port) == ("[::ffff:192.0.2.10]", 19823)
    assert sip(m.contacts()[0]).host == "[::ffff:192.0.2.2]"
    connection = parse_sdp(m.body).connection
    assert connection is not None
    assert connection.address == "::ffff:192.0.2.2"


def check_two_colons(m: Request) -> None:
    assert isinstance(m.uri, SipUri)
    assert m.uri.host == "[2001:db8::192.0.2.1]"


VALID: dict[str, Callable[..., None]] = {
    "wsinv": check_wsinv,
    "intmeth": check_intmeth,
    "esc01": check_esc01,
    "escnull": check_escnull,
    "esc02": check_esc02,
    "lwsdisp": check_lwsdisp,
    "longreq": check_longreq,
    "dblreq": check_dblreq,
    "semiuri": check_semiuri,
    "transports": check_transports,
    "mpart01": check_mpart01,
    "unreason": check_unreason,
    "noreason": check_noreason,
    "badbranch": check_badbranch,
    "unkscm": check_unkscm,
    "novelsc": check_novelsc,
    "unksm2": check_unksm2,
    "bext01": check_bext01,
    "invut": check_invut,
    "regaut01": check_regaut01,
    "bcast": check_bcast,
    "zeromf": check_zeromf,
    "cparam01": check_cparam01,
    "cparam02": check_cparam02,
    "regescrt": check_regescrt,
    "sdp01": check_sdp01,
    "inv2543": check_inv2543,
    "ipv6-good": check_ipv6_good,
    "port-ambiguous": check_port_ambiguous,
    "port-unambiguous": check_port_unambiguous,
    "via-received-param-with-delim": check_received_with_delim,
    "via-received-param-no-delim": check_received_no_delim,
    "ipv6-in-sdp": check_ipv6_in_sdp,
    "mult-ip-in-header": check_mult_ip_in_header,
    "mult-ip-in-sdp": check_mult_ip_in_sdp,
    "ipv4-mapped-ipv6": check_ipv4_mapped,
    "ipv6-correct-abnf-2-colons": check_two_colons,
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_torture_message_parses(name: str) -> None:
    message = parse_message(load("valid", name))
    assert parse_message(bytes(message)) == message
    VALID[name](message)


# -- invalid messages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    """The parser raises ``message``; the reply is ``status`` (``None``: dropped)."""

    message: str
    status: int | None = 400


@dataclass(frozen=True)
class Accepted:
    """The message parses; ``layer`` answers ``status`` (``None``: processed normally)."""

    layer: str
    status: int | None
    check: Callable[[Request], None] | None = None


def _version_7(m: Request) -> None:
    assert m.version == "SIP/7.0"


def _date_kept(m: Request) -> None:
    assert m.header("date") == "Fri, 01 Jan 2010 16:00:00 EST"


def _three_colons(m: Request) -> None:
    assert isinstance(m.uri, SipUri)
    assert m.uri.host == "[2001:db8:::192.0.2.1]"


INVALID: dict[str, Rejected | Accepted] = {
    "badinv01": Rejected("empty element in header list 'SIP/2.0/UDP 192.0.2.15;;,;,,'"),
    "clerr": Rejected("Content-Length 9999 larger than the 154-byte body"),
    "ncl": Rejected("malformed Content-Length '-999'"),
    "scalar02": Rejected("CSeq number '36893488147419103232' exceeds 2**31-1"),
    "scalarlg": Rejected("CSeq number '9292394834772304023312' exceeds 2**31-1", None),
    "quotbal": Rejected(
        """unterminated quoted string in '"Mr. J. User <sip:j.user@example.com>'"""
    ),
    "ltgtruri": Rejected("Request-URI '<sip:user@example.com>' enclosed in '<>'"),
    "lwsruri": Rejected("malformed start line 'INVITE sip:user@example.com; lr SIP/2.0'"),
    "lwsstart": Rejected("malformed start line 'INVITE  sip:user@example.com  SIP/2.0'"),
    "trws": Rejected("malformed start line 'OPTIONS sip:remote-target@example.com SIP/2.0  '"),
    "escruri": Rejected(
        "Request-URI 'sip:user@example.com?Route=%3Csip:example.com%3E' carries headers"
    ),
    "baddate": Accepted("nobody: Date is not interpreted", None, _date_kept),
    "regbadct": Rejected(
        "URI with '?' not enclosed in '<>' in address "
        "'sip:user@example.com?Route=%3Csip:sip.example.com%3E'"
    ),
    "badaspec": Rejected(
        """whitespace inside <> in address '"Watson, Thomas" < sip:t.watson@example.org >'"""
    ),
    "baddn": Rejected("invalid display name 'Bell, Alexander'"),
    "badvers": Accepted("proxy validate_request (§8.2 / §21.5.25)", 505, _version_7),
    "mismatch01": Rejected("CSeq method INVITE does not match request method OPTIONS"),
    "mismatch02": Rejected("CSeq method INVITE does not match request method NEWMETHOD", 501),
    "bigcode": Rejected(
        "malformed start line 'SIP/2.0 4294967301 better not break the receiver'", None
    ),
    # No From/To/Call-ID: no reply the client could match, so it is dropped (§3.1.2.18
    # allows either; a 400 without them would itself be malformed).
    "insuf": Rejected("missing From, To, Call-ID headers", status=None),
    "multi01": Rejected("more than one CSeq header"),
    "mcl01": Rejected("more than one Content-Length header"),
    "test": Rejected("malformed start line 'INVITE sip:alan@jasomi.com'", None),
    "ipv6-bad": Rejected("IPv6 address without brackets in SIP URI 'sip:2001:db8::10'"),
    "ipv6-bug-abnf-3-colons": Accepted("nobody: tolerated (RFC 5118 §4.10)", None, _three_colons),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_torture_message(name: str) -> None:
    expected = INVALID[name]
    data = load("invalid", name)
    if isinstance(expected, Accepted):
        message = parse_message(data)
        assert isinstance(message, Request)
        assert parse_message(bytes(message)) == message
        if expected.check is not None:
            expected.check(message)
        return
    with pytest.raises(ParseError) as caught:
        parse_message(data)
    error = caught.value
    assert str(error) == expected.message
    reply = make_error_response(error)
    if expected.status is None:
        assert reply is None
        return
    assert reply is not None
    assert reply.status_code == expected.status
    assert "\r" not in reply.reason
    assert "\n" not in reply.reason
    assert len(reply.reason) <= 120
    # RFC 3261 §8.2.6.2: the reply carries the request's Via and CSeq.
    assert reply.header_lines("via") == [h.value for h in error.raw_headers if h.key == "via"]
    assert reply.header("cseq") == next(h.value for h in error.raw_headers if h.key == "cseq")


def test_every_fixture_has_an_expectation() -> None:
    assert {p.stem for p in (DATA / "valid").glob("*.sip")} == set(VALID)
    assert {p.stem for p in (DATA / "invalid").glob("*.sip")} == set(INVALID)


def test_archive_copy_of_baddn_without_empty_line_still_gets_a_400() -> None:
    # The RFC 4475 Appendix A file of baddn ends right after "l: 0" (no empty line).
    data = load("invalid", "baddn")[:-2]
    with pytest.raises(ParseError, match="^no empty line after the header fields$") as caught:
        parse_message(data)
    reply = make_error_response(caught.value)
    assert reply is not None
    assert reply.status_code == 400


# -- the same messages on a stream transport (RFC 3261 §18.3) --------------------------------


def frames(data: bytes) -> tuple[list[bytes], StreamFramer]:
    framer = StreamFramer()
    framer.feed(data)
    out = []
    while (frame := framer.next_frame()) is not None:
        out.append(frame)
    return out, framer


def test_dblreq_on_a_stream_is_two_requests() -> None:
    framer = StreamFramer()
    framer.feed(load("valid", "dblreq"))
    register, invite = framer.next_frame(), framer.next_frame()
    assert register is not None
    assert invite is not None
    first = parse_message(register, stream=True)
    second = parse_message(invite, stream=True)
    assert isinstance(first, Request)
    assert isinstance(second, Request)
    assert (first.method, second.method) == ("REGISTER", "INVITE")
    assert len(second.body) == 150
    # The INVITE's body runs 5 octets past its Content-Length: they cannot be framed.
    assert framer.buffered == 5
    with pytest.raises(ParseError, match="^missing Content-Length on a stream transport$"):
        framer.next_frame()


def test_clerr_on_a_stream_waits_for_the_missing_octets() -> None:
    found, framer = frames(load("invalid", "clerr"))
    assert found == []
    assert framer.buffered == len(load("invalid", "clerr"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ncl", "malformed Content-Length '-999'"),
        ("mcl01", "more than one Content-Length header"),
    ],
)
def test_unrecoverable_stream_framing(name: str, message: str) -> None:
    with pytest.raises(ParseError, match=f"^{re.escape(message)}$"):
        frames(load("invalid", name))


def test_inv2543_on_a_stream_lacks_content_length() -> None:
    with pytest.raises(ParseError, match="^missing Content-Length on a stream transport$"):
        frames(load("valid", "inv2543"))

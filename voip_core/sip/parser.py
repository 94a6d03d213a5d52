"""Parse SIP messages from bytes (RFC 3261 §7, §18.3, §25), with no I/O.

``parse_message`` parses one complete message (a UDP datagram or a frame cut by
:class:`~voip_core.sip.framer.StreamFramer`). It validates what every later layer relies
on: the start line, header syntax, single-instance headers appearing once, Content-Length
against the body, and the values of Via, From, To, Call-ID, CSeq, Max-Forwards, Contact,
Route and Record-Route. Anything else stays as raw text until an accessor asks for it.

Theory of operation: the header block is cut at the first empty line and split into
lines (after unfolding, RFC 3261 §7.3.1) before anything is judged, so that a
:class:`ParseError` raised anywhere after that point carries ``raw_headers``,
``is_request`` and ``method``: with a usable top Via the caller can still answer 400 (or
``error.status_code``) through :func:`~voip_core.sip.reply.make_error_response`; without
one the message is dropped silently (RFC 3261 §18.3 / RFC 4475 §3.1.2). Syntax errors in
header lines are collected while the split goes on, so the raw headers stay as complete
as possible. The typed values built while validating are memoised on the message and
reused by its accessors.

Octets after Content-Length in a datagram are ignored (RFC 3261 §18.3, RFC 4475
§3.1.1.8); a Content-Length larger than the datagram's body is a 400.

RFC sections covered: RFC 3261 §7.1-§7.5, §8.1.1 (mandatory headers), §8.1.1.5 (CSeq
bound), §18.3 (framing), §20.14 (Content-Length), §20.22 (Max-Forwards 0-255), §25.
Left out (validation layers decide): SIP version other than 2.0 (505), unknown URI
schemes (416), Require/Proxy-Require (420), Max-Forwards 0 (483), Accept (406), the
RFC 3261 §8.2.2.2 merged-request check, Date syntax (RFC 4475 §3.1.2.12: not
interpreted), bodies.
"""

from __future__ import annotations

import re
from typing import Final

from voip_core.sip._access import HeaderMemo
from voip_core.sip._syntax import excerpt, parse_bounded_int
from voip_core.sip.address import check_name_addr, parse_name_addr
from voip_core.sip.exceptions import ParseError
from voip_core.sip.framer import MAX_MESSAGE_SIZE, StreamFramer
from voip_core.sip.grammar import is_token, split_header_list
from voip_core.sip.headers import KNOWN_HEADER_KEYS, SINGLE_HEADERS, Header, header_key, parse_cseq
from voip_core.sip.message import Request, Response, new_request, new_response
from voip_core.sip.uri import SipUri, parse_uri
from voip_core.sip.via import parse_via_line

__all__ = [
    "MAX_HEADERS",
    "MAX_MESSAGE_SIZE",
    "REGISTERED_METHODS",
    "StreamFramer",
    "parse_message",
]

#: Most header fields accepted in one message. Real phones send 10-25; Kamailio's parser
#: stops at a similar few hundred. A bound keeps a hostile message from costing O(n²).
MAX_HEADERS: Final = 256

#: Methods of RFC 3261 and its extensions (IANA "SIP Methods" registry). A CSeq whose
#: method differs from one of these is a 400; for any other method it is a 501 (RFC 4475
#: §3.1.2.17, §3.1.2.18: an element does not implement a method it cannot even name).
REGISTERED_METHODS: Final = frozenset(
    {
        "ACK",
        "BYE",
        "CANCEL",
        "INFO",
        "INVITE",
        "MESSAGE",
        "NOTIFY",
        "OPTIONS",
        "PRACK",
        "PUBLISH",
        "REFER",
        "REGISTER",
        "SUBSCRIBE",
        "UPDATE",
    }
)

_REQUEST_LINE_RE: Final = re.compile(r"([^ \t]+) ([^ \t]+) ((?i:SIP)/[^ \t]+)")
# reason-phrase (§25.1) allows no control characters but HTAB
_STATUS_LINE_RE: Final = re.compile(
    r"((?i:SIP)/[^ \t]+) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?"
)
_HEADER_NAME_RE: Final = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_VERSION_RE: Final = re.compile(r"SIP/[0-9]+\.[0-9]+", re.I)
_FOLD_RE: Final = re.compile(r"[ \t]*\r\n[ \t]+")
_CALL_ID_RE: Final = re.compile(r"[^\x00- \x7f]+")
_MANDATORY: Final = (
    ("via", "Via"),
    ("from", "From"),
    ("to", "To"),
    ("call-id", "Call-ID"),
    ("cseq", "CSeq"),
)
_MANDATORY_KEYS: Final = frozenset(key for key, _ in _MANDATORY)
_CHECKED_ADDRESSES: Final = ("contact", "route", "record-route")
_new_header = tuple.__new__

#: Header lines seen recently, mapped to their immutable Header: most lines ("CSeq: 1
#: INVITE", "Max-Forwards: 70", a phone's Contact and User-Agent...) repeat across
#: messages, and a dictionary hit is a fraction of splitting and checking the line.
#: Bounded like the value caches of ``_memo.py``: cleared when full, long lines skipped.
_LINE_CACHE: Final[dict[str, Header]] = {}
MAX_CACHED_LINES: Final = 4096
MAX_CACHED_LINE: Final = 256


def parse_message(data: bytes, *, stream: bool = False) -> Request | Response:
    """Parse one SIP message.

    ``stream`` is set for frames from a connection-oriented transport, where
    Content-Length is mandatory (RFC 3261 §18.3) and the framer already cut the body.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise ParseError(
            f"message of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}", status_code=513
        )
    start = 0
    # RFC 3261 §7.5: CRLFs before the start line are ignored.
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        head = data[start:].decode("utf-8", "surrogateescape")
        if head.endswith("\r\n"):
            head = head[:-2]
        body = b""
        header_error: ParseError | None = ParseError("no empty line after the header fields")
    else:
        head = data[start:end].decode("utf-8", "surrogateescape")
        body = data[end + 4 :]
        header_error = None
    start_line, headers, index, repeated, split_error = _split_head(head)
    header_error = header_error or split_error
    request_match = _REQUEST_LINE_RE.fullmatch(start_line)
    status_match = None if request_match else _STATUS_LINE_RE.fullmatch(start_line)
    if request_match is not None:
        is_request, method = True, request_match.group(1)
    else:
        is_request = status_match is None and start_line[:4].upper() != "SIP/"
        first_word = start_line.split(" ", 1)[0]
        method = first_word if is_request and is_token(first_word) else None
    try:
        if request_match is None and status_match is None:
            raise ParseError(f"malformed start line {excerpt(start_line, 80)}")
        if header_error is not None:
            raise header_error
        body = _frame_body(index, body, stream)
        if "content-length" in index:
            del index["content-length"]
            headers = [header for header in headers if header.key != "content-length"]
        if request_match is not None:
            return _build_request(request_match, headers, index, repeated, body)
        assert status_match is not None
        return _build_response(status_match, headers, index, repeated, body)
    except ParseError as error:
        error.raw_headers = tuple(headers)
        error.is_request = is_request
        error.method = method
        raise


def _split_head(
    head: str,
) -> tuple[str, list[Header], dict[str, str], set[str], ParseError | None]:
    """Start line, headers, first value per key, repeated keys, and the first error seen.

    Malformed lines are skipped (and reported) so the others still reach ``raw_headers``.
    """
    crlf = head.find("\r\n")
    if crlf < 0:
        return head, [], {}, set(), None
    start_line = head[:crlf]
    rest = head[crlf:]
    error: ParseError | None = None
    if "\r\n " in rest or "\r\n\t" in rest:
        if rest.startswith(("\r\n ", "\r\n\t")):
            error = ParseError("header continuation line before any header")
        # RFC 3261 §7.3.1: a line starting with whitespace continues the previous one.
        rest = _FOLD_RE.sub(" ", rest)
    crlf_count = rest.count("\r\n")
    bare = rest.count("\r") != crlf_count or rest.count("\n") != crlf_count
    if bare and error is None:
        error = ParseError(f"bare CR or LF in header line {_bare_line(rest)}")
    lines = rest.split("\r\n")
    if len(lines) > MAX_HEADERS + 1:
        error = error or ParseError(f"more than {MAX_HEADERS} header fields")
        del lines[MAX_HEADERS + 1 :]
    headers: list[Header] = []
    index: dict[str, str] = {}
    repeated: set[str] = set()
    cached = _LINE_CACHE.get
    for line in lines[1:]:
        header = cached(line)
        if header is None:
            if bare and ("\r" in line or "\n" in line):
                continue  # never into raw_headers: a reply must not echo it
            header = _parse_header_line(line)
            if header is None:
                error = error or ParseError(f"malformed header line {excerpt(line)}")
                continue
            if len(line) <= MAX_CACHED_LINE:
                if len(_LINE_CACHE) >= MAX_CACHED_LINES:
                    _LINE_CACHE.clear()
                _LINE_CACHE[line] = header
        headers.append(header)
        key = header[0]
        if key not in index:
            index[key] = header[2]
        else:
            repeated.add(key)
            if key in SINGLE_HEADERS and error is None:
                error = ParseError(f"more than one {header[1]} header")
    return start_line, headers, index, repeated, error


def _parse_header_line(line: str) -> Header | None:
    """``name: value`` with the name checked and the value trimmed; ``None`` if malformed."""
    name, colon, value = line.partition(":")
    if not colon:
        return None
    key = KNOWN_HEADER_KEYS.get(name)
    if key is None:
        name = name.rstrip(" \t")
        if not _HEADER_NAME_RE.fullmatch(name):
            return None
        key = header_key(name)
    return _new_header(Header, (key, name, value.strip(" \t")))


def _bare_line(rest: str) -> str:
    for line in rest.split("\r\n"):
        if "\r" in line or "\n" in line:
            return excerpt(line)
    return "''"  # pragma: no cover - only called when such a line exists


def _frame_body(index: dict[str, str], body: bytes, stream: bool) -> bytes:
    text = index.get("content-length")
    if text is None:
        if stream:
            raise ParseError("missing Content-Length on a stream transport")
        return body  # RFC 3261 §18.3: on UDP the body runs to the end of the datagram
    length = parse_bounded_int(text, 10)
    if length is None:
        raise ParseError(f"malformed Content-Length {excerpt(text)}")
    if length > len(body):
        # RFC 3261 §18.3: on UDP a shorter body than announced is a 400.
        raise ParseError(f"Content-Length {length} larger than the {len(body)}-byte body")
    return body if length == len(body) else body[:length]


def _build_request(
    match: re.Match[str],
    headers: list[Header],
    index: dict[str, str],
    repeated: set[str],
    body: bytes,
) -> Request:
    method, uri_text, version = match.groups()
    if not is_token(method):
        raise ParseError(f"invalid method {excerpt(method)}")
    if not _VERSION_RE.fullmatch(version):
        raise ParseError(f"malformed SIP version {excerpt(version)}")
    if uri_text[0] == "<":
        raise ParseError(f"Request-URI {excerpt(uri_text)} enclosed in '<>'")
    uri = parse_uri(uri_text)
    if isinstance(uri, SipUri) and uri.headers:
        # RFC 3261 §19.1.1 table 1: headers are not allowed in a Request-URI.
        raise ParseError(f"Request-URI {excerpt(uri_text)} carries headers")
    memo = _validate(index, repeated, headers)
    request = new_request(method, uri, tuple(headers), body, version.upper(), memo)
    assert memo.cseq is not None
    cseq_method = memo.cseq.method
    if cseq_method != method:
        status = 400 if method in REGISTERED_METHODS else 501
        raise ParseError(
            f"CSeq method {cseq_method} does not match request method {method}",
            status_code=status,
        )
    return request


def _build_response(
    match: re.Match[str],
    headers: list[Header],
    index: dict[str, str],
    repeated: set[str],
    body: bytes,
) -> Response:
    version, code, reason = match.groups()
    if not _VERSION_RE.fullmatch(version):
        raise ParseError(f"malformed SIP version {excerpt(version)}")
    status = int(code)
    if not 100 <= status <= 699:
        raise ParseError(f"status code {code} outside 100-699")
    memo = _validate(index, repeated, headers)
    response = new_response(status, reason or "", tuple(headers), body, version.upper(), memo)
    return response


def _validate(index: dict[str, str], repeated: set[str], headers: list[Header]) -> HeaderMemo:
    """Check the values every later layer reads; memoise the typed ones for the accessors.

    Contact, Route and Record-Route are only checked here; their accessors build the
    values when first asked.
    """
    if not index.keys() >= _MANDATORY_KEYS:
        missing = [name for key, name in _MANDATORY if key not in index]
        plural = "s" if len(missing) > 1 else ""
        raise ParseError(f"missing {', '.join(missing)} header{plural}")
    memo = HeaderMemo()
    memo.index = index
    memo.repeated = tuple(repeated) if repeated else ()
    if "via" in repeated:
        memo.vias = tuple(via for h in headers if h.key == "via" for via in parse_via_line(h.value))
    else:
        memo.vias = parse_via_line(index["via"])
    memo.from_ = parse_name_addr(index["from"])
    memo.to = parse_name_addr(index["to"])
    call_id = index["call-id"]
    if not _CALL_ID_RE.fullmatch(call_id):
        raise ParseError(f"malformed Call-ID {excerpt(call_id)}")
    memo.cseq = parse_cseq(index["cseq"])
    max_forwards = index.get("max-forwards")
    if max_forwards is not None:
        number = parse_bounded_int(max_forwards, 10)
        if number is None:
            raise ParseError(f"malformed Max-Forwards {excerpt(max_forwards)}")
        if number > 255:
            raise ParseError(f"Max-Forwards {number} exceeds 255")
    for key in _CHECKED_ADDRESSES:
        if key in index:
            lines = [h.value for h in headers if h.key == key] if key in repeated else [index[key]]
            for line in lines:
                for value in split_header_list(line) if "," in line or not line else (line,):
                    if value != "*" or key != "contact":
                        # RFC 3261 §10.2.2: "Contact: *" is legal; the registrar judges it.
                        check_name_addr(value)
    return memo

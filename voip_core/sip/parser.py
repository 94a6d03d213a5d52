"""Parse SIP messages from bytes (RFC 3261 §7, §18.3, §25), with no I/O.

``parse_message`` parses one complete message (a UDP datagram or a frame cut by
:class:`StreamFramer`). It validates what every later layer relies on: the start line,
header syntax, the mandatory request headers of §8.1.1 (Via, From, To, Call-ID, CSeq) with
their values, single-instance headers appearing once, and Content-Length against the body.
Anything else stays as raw text until an accessor asks for it.

A :class:`ParseError` raised after the header block was split carries ``headers`` and
``is_request`` so the caller can still answer 400 (or 505) when a Via is usable; without
them the message is dropped silently (RFC 3261 §18.3 / RFC 4475 §3.1.2).
"""

from __future__ import annotations

import re
from typing import Final

from voip_core.sip.address import parse_name_addr
from voip_core.sip.exceptions import ParseError
from voip_core.sip.grammar import is_token
from voip_core.sip.headers import SINGLE_HEADERS, Header, header_key, parse_cseq
from voip_core.sip.message import Request, Response
from voip_core.sip.uri import SipUri, parse_uri
from voip_core.sip.via import parse_via

__all__ = [
    "MAX_HEADERS",
    "MAX_MESSAGE_SIZE",
    "StreamFramer",
    "parse_message",
]

#: Largest message accepted on any transport. UDP cannot carry more than 65,507 bytes of
#: payload (IPv4), and RFC 3261 §18.1.1 expects larger requests to move to TCP; we apply
#: the same bound to stream framing so one peer cannot make us buffer without limit.
MAX_MESSAGE_SIZE: Final = 65_535

#: Most header fields accepted in one message. Real phones send 10-25; Kamailio's parser
#: stops at a similar few hundred. A bound keeps a hostile message from costing O(n²).
MAX_HEADERS: Final = 256

_REQUEST_LINE_RE: Final = re.compile(r"([^ \t]+) ([^ \t]+) (SIP/[^ \t]+)")
_STATUS_LINE_RE: Final = re.compile(r"(SIP/[^ \t]+) ([0-9]{3}) (.*)")
_HEADER_NAME_RE: Final = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_VERSION_RE: Final = re.compile(r"SIP/[0-9]+\.[0-9]+", re.I)


def _attach(error: ParseError, headers: list[Header], is_request: bool, method: str | None) -> ParseError:
    error.raw_headers = tuple(headers)
    error.is_request = is_request
    error.method = method
    return error


def parse_message(data: bytes, *, stream: bool = False) -> Request | Response:
    """Parse one SIP message.

    ``stream`` is set for frames from a connection-oriented transport, where
    Content-Length is mandatory (RFC 3261 §18.3) and the framer already cut the body.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise ParseError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}", status_code=513)
    start = 0
    # RFC 3261 §7.5: CRLFs before the start line are ignored.
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        raise ParseError("no empty line after the header fields")
    head = data[start:end].decode("utf-8", "surrogateescape")
    body = data[end + 4 :]
    lines = head.split("\r\n")
    start_line = lines[0]
    request_match = _REQUEST_LINE_RE.fullmatch(start_line)
    status_match = None if request_match else _STATUS_LINE_RE.fullmatch(start_line)
    if request_match is None and status_match is None:
        raise ParseError(f"malformed start line {start_line[:80]!r}")
    is_request = request_match is not None
    method = request_match.group(1) if request_match else None
    headers: list[Header] = []
    try:
        headers = _parse_header_lines(lines)
        content_length = _content_length(headers, len(body), stream)
        if content_length is not None:
            body = body[:content_length]
        headers = [h for h in headers if h.key != "content-length"]
        if request_match is not None:
            return _build_request(request_match, headers, body)
        assert status_match is not None
        return _build_response(status_match, headers, body)
    except ParseError as error:
        raise _attach(error, headers, is_request, method) from None


def _parse_header_lines(lines: list[str]) -> list[Header]:
    headers: list[Header] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            # RFC 3261 §7.3.1: a line starting with whitespace continues the previous one.
            if not headers:
                raise ParseError("header continuation line before any header")
            last = headers[-1]
            continuation = line.strip(" \t")
            headers[-1] = Header(last.key, last.name, f"{last.value} {continuation}")
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _HEADER_NAME_RE.fullmatch(name):
            raise ParseError(f"malformed header line {line[:60]!r}")
        headers.append(Header(header_key(name), name, value.strip(" \t")))
        if len(headers) > MAX_HEADERS:
            raise ParseError(f"more than {MAX_HEADERS} header fields")
    return headers


def _content_length(headers: list[Header], available: int, stream: bool) -> int | None:
    values = [h.value for h in headers if h.key == "content-length"]
    if not values:
        if stream:
            raise ParseError("missing Content-Length on a stream transport")
        return None
    if len(values) > 1:
        raise ParseError(f"{len(values)} Content-Length headers")
    text = values[0].strip()
    if not text.isdigit() or len(text) > 10:
        raise ParseError(f"malformed Content-Length {values[0]!r}")
    length = int(text)
    if length > available:
        # RFC 3261 §18.3: on UDP a shorter body than announced is a 400.
        raise ParseError(f"Content-Length {length} larger than the {available}-byte body")
    return length


def _check_single_headers(headers: list[Header]) -> None:
    seen: set[str] = set()
    for header in headers:
        if header.key in SINGLE_HEADERS:
            if header.key in seen:
                raise ParseError(f"more than one {header.name} header")
            seen.add(header.key)


def _build_request(match: re.Match[str], headers: list[Header], body: bytes) -> Request:
    method, uri_text, version = match.groups()
    if not is_token(method):
        raise ParseError(f"invalid method {method!r}")
    if not _VERSION_RE.fullmatch(version):
        raise ParseError(f"malformed SIP version {version!r}")
    uri = parse_uri(uri_text)
    _check_single_headers(headers)
    request = Request(method=method, uri=uri, headers=tuple(headers), body=body, version=version.upper())
    _validate_common(request)
    cseq = request.cseq()
    if cseq.method != method:
        raise ParseError(f"CSeq method {cseq.method} does not match request method {method}")
    if isinstance(uri, SipUri) and uri.headers and method != "REGISTER":
        # §19.1.1: headers in a Request-URI are not allowed... but escaped headers are legal
        # in Contact of REGISTER; in the R-URI they are ignored by us rather than rejected.
        pass
    return request


def _build_response(match: re.Match[str], headers: list[Header], body: bytes) -> Response:
    version, code, reason = match.groups()
    if not _VERSION_RE.fullmatch(version):
        raise ParseError(f"malformed SIP version {version!r}")
    status = int(code)
    if status < 100:
        raise ParseError(f"status code {status} below 100")
    _check_single_headers(headers)
    response = Response(status_code=status, reason=reason, headers=tuple(headers), body=body, version=version.upper())
    _validate_common(response)
    return response


def _validate_common(message: Request | Response) -> None:
    vias = message.vias()
    if not vias:
        raise ParseError("missing Via header")
    message.call_id  # noqa: B018  # raises when missing
    message.cseq()
    for name in ("From", "To"):
        value = message.header(name)
        if value is None:
            raise ParseError(f"missing {name} header")
        parse_name_addr(value)
    max_forwards = message.header("max-forwards")
    if max_forwards is not None and (not max_forwards.isdigit() or int(max_forwards) > 255):
        raise ParseError(f"malformed Max-Forwards {max_forwards!r}")


class StreamFramer:
    """Cut a TCP/TLS byte stream into messages by Content-Length (RFC 3261 §18.3).

    Feed bytes with :meth:`feed`; take complete frames with :meth:`next_frame`. Keep-alive
    CRLFs between messages (RFC 5626 §3.5.1 double-CRLF ping) are skipped; a single
    ``\\r\\n\\r\\n`` ping is reported through :attr:`pings` so the adapter can pong.
    """

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self._max = max_message_size
        self.pings = 0

    def feed(self, data: bytes) -> None:
        """Append received bytes; raises ``ParseError`` when the buffer limit is passed."""
        self._buffer += data
        if len(self._buffer) > self._max * 2:
            raise ParseError(f"stream buffer exceeds {self._max * 2} bytes")

    def next_frame(self) -> bytes | None:
        """The next complete message, or ``None`` until more bytes arrive."""
        buffer = self._buffer
        while buffer.startswith(b"\r\n"):
            if buffer.startswith(b"\r\n\r\n"):
                self.pings += 1
                del buffer[:4]
            else:
                del buffer[:2]
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > self._max:
                raise ParseError(f"header block exceeds {self._max} bytes")
            return None
        length = _stream_content_length(bytes(buffer[:end]))
        total = end + 4 + length
        if total > self._max:
            raise ParseError(f"message of {total} bytes exceeds {self._max}", status_code=513)
        if len(buffer) < total:
            return None
        frame = bytes(buffer[:total])
        del buffer[:total]
        return frame

    @property
    def buffered(self) -> int:
        """Bytes waiting for the rest of their message."""
        return len(self._buffer)


_CL_RE: Final = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$", re.I | re.M)


def _stream_content_length(head: bytes) -> int:
    matches = _CL_RE.findall(head)
    if len(matches) != 1:
        raise ParseError(
            "missing Content-Length on a stream transport" if not matches else "more than one Content-Length header"
        )
    return int(matches[0])

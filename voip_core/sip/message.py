"""SIP requests and responses (RFC 3261 §7).

Theory of operation: a message is an immutable value holding the start line, the header
fields as an ordered tuple of :class:`~voip_core.sip.headers.Header` (exactly as
received, unknown ones included), and the body. Typed accessors (``vias()``,
``from_()``, ``cseq()``...) parse a header value on demand; a malformed value raises
:class:`~voip_core.sip.exceptions.ParseError`, which carries the 400 reason. The parser
validates Via, From, To, Call-ID, CSeq, Max-Forwards, Contact, Route and Record-Route up
front (RFC 3261 §8.2.1, §16.3), so a message that came out of
:func:`~voip_core.sip.parser.parse_message` answers those accessors without error.

Each message memoises what its accessors computed in a private, non-field slot (a
:class:`HeaderMemo`), so the parser's validation and every later call share one parse of
each header. The memo is not a dataclass field: it takes no part in equality, hashing,
``repr`` or ``dataclasses.replace`` (a modified copy starts with an empty memo). Accessors
that return lists return fresh lists, so callers cannot alter the memo.

Content-Length is not stored as a header: the parser checks it against the body and drops
it, and serialisation always writes the true length last (a Content-Length header added
through the API is ignored for the same reason). Modification methods return a new
message; nothing is changed in place.

RFC sections covered: RFC 3261 §7 (message structure), §7.3.1 (list headers), §8.2.6
(building responses), §20 accessors for Via, From, To, Call-ID, CSeq, Max-Forwards,
Contact, Route, Record-Route, Expires. Left out: body handling beyond raw bytes (see
``sdp.py``), multipart bodies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from voip_core.sip._header_edit import (
    insert_before_first,
    pop_first_value,
    prepend,
    remove_all,
    replace_first,
    serialize_message,
)
from voip_core.sip._slots import member_setter, slot_setters
from voip_core.sip._syntax import excerpt, parse_bounded_int
from voip_core.sip.address import NameAddress, parse_name_addr, serialize_name_addr
from voip_core.sip.exceptions import ParseError
from voip_core.sip.grammar import split_header_list
from voip_core.sip.headers import CSeq, Header, header_key, make_header, parse_cseq
from voip_core.sip.status import reason_phrase
from voip_core.sip.uri import Uri, serialize_uri
from voip_core.sip.via import Via, parse_via_line, serialize_via

__all__ = ["SIP_VERSION", "Message", "Request", "Response", "format_via", "make_response"]

SIP_VERSION = "SIP/2.0"

#: RFC 3261 §20.19: delta-seconds above 2**32-1 are read as 2**32-1.
_MAX_DELTA_SECONDS = 2**32 - 1


class HeaderMemo:
    """Typed header values a message has computed so far (``None``: not yet).

    Package-internal: the parser fills one while validating and hands it to
    :func:`new_request` / :func:`new_response`; the accessors fill the rest on demand.
    """

    index: dict[str, str] | None = None
    """First value of every header key."""
    repeated: frozenset[str] | set[str] = frozenset()
    """Keys that occur on more than one header line (valid once ``index`` is set)."""
    vias: tuple[Via, ...] | None = None
    from_: NameAddress | None = None
    to: NameAddress | None = None
    cseq: CSeq | None = None
    contacts: tuple[NameAddress, ...] | None = None
    routes: tuple[NameAddress, ...] | None = None
    record_routes: tuple[NameAddress, ...] | None = None


class _HeaderAccess:
    """Header accessors shared by requests and responses."""

    __slots__ = ("_parsed",)
    headers: tuple[Header, ...]
    body: bytes
    _parsed: HeaderMemo

    def _memo(self) -> HeaderMemo:
        try:
            return self._parsed
        except AttributeError:
            parsed = HeaderMemo()
            object.__setattr__(self, "_parsed", parsed)  # frozen dataclass: bypass on purpose
            return parsed

    def _index(self) -> dict[str, str]:
        """First value of every header key."""
        parsed = self._memo()
        index = parsed.index
        if index is None:
            index = {}
            repeated: set[str] = set()
            for header in self.headers:
                if header.key in index:
                    repeated.add(header.key)
                else:
                    index[header.key] = header.value
            parsed.index = index
            parsed.repeated = repeated
        return index

    def _lines(self, key: str) -> list[str]:
        """Values of every header line with ``key``, without list splitting."""
        value = self._index().get(key)
        if value is None:
            return []
        if key not in self._parsed.repeated:
            return [value]
        return [header.value for header in self.headers if header.key == key]

    def _elements(self, key: str) -> list[str]:
        """Every list element of header ``key`` (§7.3.1)."""
        values: list[str] = []
        for value in self._lines(key):
            if "," in value or not value:
                values.extend(split_header_list(value))
            else:
                values.append(value.strip(" \t"))
        return values

    # -- raw access -----------------------------------------------------------------

    def header(self, name: str) -> str | None:
        """Value of the first header called ``name`` (any case, compact forms too)."""
        return self._index().get(header_key(name))

    def header_values(self, name: str) -> list[str]:
        """Every element of header ``name``, comma-separated lists split (§7.3.1)."""
        return self._elements(header_key(name))

    def header_lines(self, name: str) -> list[str]:
        """Every value of header ``name`` as separate lines, without list splitting."""
        return self._lines(header_key(name))

    def has_header(self, name: str) -> bool:
        """Whether at least one header called ``name`` is present."""
        return header_key(name) in self._index()

    # -- typed accessors ------------------------------------------------------------

    def _vias(self) -> tuple[Via, ...]:
        parsed = self._memo()
        vias = parsed.vias
        if vias is None:
            lines = self._lines("via")
            if len(lines) == 1:
                vias = parsed.vias = parse_via_line(lines[0])
            else:
                vias = parsed.vias = tuple(via for line in lines for via in parse_via_line(line))
        return vias

    def vias(self) -> list[Via]:
        """All Via entries, topmost first."""
        return list(self._vias())

    def top_via(self) -> Via:
        """The topmost Via; ``ParseError`` when there is none."""
        vias = self._vias()
        if not vias:
            raise ParseError("missing Via header")
        return vias[0]

    def _single_address(self, key: str, name: str) -> NameAddress:
        value = self._index().get(key)
        if value is None:
            raise ParseError(f"missing {name} header")
        return parse_name_addr(value)

    def from_(self) -> NameAddress:
        """The From header."""
        parsed = self._memo()
        address = parsed.from_
        if address is None:
            address = parsed.from_ = self._single_address("from", "From")
        return address

    def to(self) -> NameAddress:
        """The To header."""
        parsed = self._memo()
        address = parsed.to
        if address is None:
            address = parsed.to = self._single_address("to", "To")
        return address

    @property
    def call_id(self) -> str:
        """The Call-ID; ``ParseError`` when missing."""
        value = self._index().get("call-id")
        if value is None:
            raise ParseError("missing Call-ID header")
        return value.strip()

    def cseq(self) -> CSeq:
        """The CSeq header."""
        parsed = self._memo()
        cseq = parsed.cseq
        if cseq is None:
            value = self._index().get("cseq")
            if value is None:
                raise ParseError("missing CSeq header")
            cseq = parsed.cseq = parse_cseq(value)
        return cseq

    def max_forwards(self) -> int | None:
        """Max-Forwards (0-255), ``None`` when absent (RFC 3261 §20.22)."""
        value = self._index().get("max-forwards")
        if value is None:
            return None
        number = parse_bounded_int(value, 10)
        if number is None:
            raise ParseError(f"malformed Max-Forwards {excerpt(value)}")
        if number > 255:
            raise ParseError(f"Max-Forwards {number} exceeds 255")
        return number

    def _addresses(self, key: str) -> tuple[NameAddress, ...]:
        return tuple(parse_name_addr(value) for value in self._elements(key))

    def contacts(self) -> list[NameAddress]:
        """Contact addresses; empty for none. ``Contact: *`` raises (see is_wildcard_contact)."""
        parsed = self._memo()
        contacts = parsed.contacts
        if contacts is None:
            contacts = parsed.contacts = self._addresses("contact")
        return list(contacts)

    def is_wildcard_contact(self) -> bool:
        """Whether the message carries ``Contact: *`` (RFC 3261 §10.2.2)."""
        return "*" in self._elements("contact")

    def routes(self) -> list[NameAddress]:
        """Route entries, topmost first."""
        parsed = self._memo()
        routes = parsed.routes
        if routes is None:
            routes = parsed.routes = self._addresses("route")
        return list(routes)

    def record_routes(self) -> list[NameAddress]:
        """Record-Route entries, topmost first."""
        parsed = self._memo()
        record_routes = parsed.record_routes
        if record_routes is None:
            record_routes = parsed.record_routes = self._addresses("record-route")
        return list(record_routes)

    def expires(self) -> int | None:
        """The Expires header as seconds, ``None`` when absent.

        Values above 2**32-1 read as 2**32-1 (RFC 4475 §3.1.2.4 leaves huge expiry values
        to the element; the registrar caps them with its own maximum anyway).
        """
        value = self._index().get("expires")
        if value is None:
            return None
        number = parse_bounded_int(value, 10)
        if number is None:
            if value.isascii() and value.isdigit():
                return _MAX_DELTA_SECONDS
            raise ParseError(f"malformed Expires {excerpt(value)}")
        return min(number, _MAX_DELTA_SECONDS)

    def tokens(self, name: str) -> list[str]:
        """Option tags or methods of a list header (Require, Supported, Allow...), lower case."""
        return [value.lower() for value in self.header_values(name)]


@dataclass(frozen=True, slots=True)
class Request(_HeaderAccess):
    """A SIP request."""

    method: str
    uri: Uri
    headers: tuple[Header, ...]
    body: bytes = b""
    version: str = SIP_VERSION

    def with_uri(self, uri: Uri) -> Request:
        """Copy with a new Request-URI."""
        return replace(self, uri=uri)

    def with_headers(self, headers: tuple[Header, ...]) -> Request:
        """Copy with a new header tuple."""
        return replace(self, headers=headers)

    def with_body(self, body: bytes, content_type: str | None = None) -> Request:
        """Copy with a new body (and Content-Type when given)."""
        headers = self.headers
        if content_type is not None:
            headers = replace_first(headers, "Content-Type", content_type)
        return replace(self, body=body, headers=headers)

    def prepend(self, name: str, value: str) -> Request:
        """Copy with a header inserted before every other header."""
        return replace(self, headers=prepend(self.headers, name, value))

    def insert_first(self, name: str, value: str) -> Request:
        """Copy with a header inserted before the first header of the same name."""
        return replace(self, headers=insert_before_first(self.headers, name, value))

    def set_header(self, name: str, value: str) -> Request:
        """Copy with the first header ``name`` replaced (or appended)."""
        return replace(self, headers=replace_first(self.headers, name, value))

    def append(self, name: str, value: str) -> Request:
        """Copy with a header appended after all others."""
        return replace(self, headers=(*self.headers, make_header(name, value)))

    def remove(self, name: str) -> Request:
        """Copy without any header ``name``."""
        return replace(self, headers=remove_all(self.headers, name))

    def pop_first_value(self, name: str) -> Request:
        """Copy without the first element of list header ``name`` (top Route...)."""
        return replace(self, headers=pop_first_value(self.headers, name))

    def __bytes__(self) -> bytes:
        start_line = f"{self.method} {serialize_uri(self.uri)} {self.version}\r\n"
        return serialize_message(start_line, self.headers, self.body)


@dataclass(frozen=True, slots=True)
class Response(_HeaderAccess):
    """A SIP response."""

    status_code: int
    reason: str
    headers: tuple[Header, ...]
    body: bytes = b""
    version: str = SIP_VERSION

    @property
    def is_provisional(self) -> bool:
        """1xx."""
        return self.status_code < 200

    @property
    def is_success(self) -> bool:
        """2xx."""
        return 200 <= self.status_code < 300

    def with_headers(self, headers: tuple[Header, ...]) -> Response:
        """Copy with a new header tuple."""
        return replace(self, headers=headers)

    def with_body(self, body: bytes, content_type: str | None = None) -> Response:
        """Copy with a new body (and Content-Type when given)."""
        headers = self.headers
        if content_type is not None:
            headers = replace_first(headers, "Content-Type", content_type)
        return replace(self, body=body, headers=headers)

    def prepend(self, name: str, value: str) -> Response:
        """Copy with a header inserted before every other header."""
        return replace(self, headers=prepend(self.headers, name, value))

    def insert_first(self, name: str, value: str) -> Response:
        """Copy with a header inserted before the first header of the same name."""
        return replace(self, headers=insert_before_first(self.headers, name, value))

    def set_header(self, name: str, value: str) -> Response:
        """Copy with the first header ``name`` replaced (or appended)."""
        return replace(self, headers=replace_first(self.headers, name, value))

    def append(self, name: str, value: str) -> Response:
        """Copy with a header appended after all others."""
        return replace(self, headers=(*self.headers, make_header(name, value)))

    def remove(self, name: str) -> Response:
        """Copy without any header ``name``."""
        return replace(self, headers=remove_all(self.headers, name))

    def pop_first_value(self, name: str) -> Response:
        """Copy without the first element of list header ``name`` (top Via...)."""
        return replace(self, headers=pop_first_value(self.headers, name))

    def __bytes__(self) -> bytes:
        start_line = f"{self.version} {self.status_code} {self.reason}\r\n"
        return serialize_message(start_line, self.headers, self.body)


Message = Request | Response

_SET_METHOD, _SET_URI, _SET_REQUEST_HEADERS, _SET_REQUEST_BODY, _SET_REQUEST_VERSION = slot_setters(
    Request, ("method", "uri", "headers", "body", "version")
)
_SET_STATUS_CODE, _SET_REASON, _SET_RESPONSE_HEADERS, _SET_RESPONSE_BODY, _SET_RESPONSE_VERSION = (
    slot_setters(Response, ("status_code", "reason", "headers", "body", "version"))
)
_SET_PARSED = member_setter(_HeaderAccess, "_parsed")
_new = object.__new__


def new_request(
    method: str,
    uri: Uri,
    headers: tuple[Header, ...],
    body: bytes,
    version: str,
    memo: HeaderMemo,
) -> Request:
    """``Request(...)`` for the parser: no frozen ``__init__``, values memoised already.

    Package-internal. ``memo`` must describe ``headers``: its ``index`` maps each key
    to its first value and ``repeated`` holds the keys found on more than one line.
    """
    request = _new(Request)
    _SET_METHOD(request, method)
    _SET_URI(request, uri)
    _SET_REQUEST_HEADERS(request, headers)
    _SET_REQUEST_BODY(request, body)
    _SET_REQUEST_VERSION(request, version)
    _SET_PARSED(request, memo)
    return request


def new_response(
    status_code: int,
    reason: str,
    headers: tuple[Header, ...],
    body: bytes,
    version: str,
    memo: HeaderMemo,
) -> Response:
    """``Response(...)`` for the parser; see :func:`new_request`."""
    response = _new(Response)
    _SET_STATUS_CODE(response, status_code)
    _SET_REASON(response, reason)
    _SET_RESPONSE_HEADERS(response, headers)
    _SET_RESPONSE_BODY(response, body)
    _SET_RESPONSE_VERSION(response, version)
    _SET_PARSED(response, memo)
    return response


# Headers copied from a request into a response it answers (RFC 3261 §8.2.6.2).
_COPIED_INTO_RESPONSE = frozenset({"via", "from", "call-id", "cseq"})


def make_response(
    request: Request,
    status_code: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """Build a response to ``request`` per RFC 3261 §8.2.6.2.

    Via (all of them, in order), From, To, Call-ID and CSeq are copied in the request's
    order; ``to_tag`` is added to To when the request had none, except in a 100 Trying
    (§8.2.6.2), which echoes Timestamp instead (§8.2.6.1). Extra ``headers`` follow.
    """
    copied: list[Header] = []
    seen_to = False
    for header in request.headers:
        key = header.key
        if key in _COPIED_INTO_RESPONSE:
            copied.append(header)
        elif key == "to" and not seen_to:
            seen_to = True
            if to_tag is not None and status_code != 100:
                address = request.to()
                if address.tag is None:
                    value = serialize_name_addr(address.with_param("tag", to_tag))
                    header = Header("to", header.name, value)
            copied.append(header)
        elif key == "timestamp" and status_code == 100:
            copied.append(header)
    for name, value in headers:
        copied.append(make_header(name, value))
    return Response(
        headers=tuple(copied),
        body=body,
        status_code=status_code,
        reason=reason if reason is not None else reason_phrase(status_code),
    )


def format_via(via: Via) -> str:
    """Render a Via for insertion with :meth:`Request.prepend`."""
    return serialize_via(via)

"""SIP requests and responses (RFC 3261 §7).

Theory of operation: a message is an immutable value holding the start line, the header
fields as an ordered tuple of :class:`~voip_core.sip.headers.Header` (exactly as
received, unknown ones included), and the body. Typed accessors (``vias()``,
``from_()``, ``cseq()``...) parse a header value on demand; a malformed value raises
:class:`~voip_core.sip.exceptions.ParseError`, which carries the 400 reason. The parser
validates the mandatory headers up front (RFC 3261 §8.2.1, §16.3), so a message that came
out of :func:`~voip_core.sip.parser.parse_message` answers those accessors without error.

Content-Length is not stored as a header: the parser checks it against the body and drops
it, and serialisation always writes the true length last. Modification methods return a
new message; nothing is changed in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from voip_core.sip.address import NameAddress, parse_name_addr, serialize_name_addr
from voip_core.sip.exceptions import ParseError
from voip_core.sip.grammar import split_header_list
from voip_core.sip.headers import CSeq, Header, header_key, make_header, parse_cseq
from voip_core.sip.status import reason_phrase
from voip_core.sip.uri import Uri, serialize_uri
from voip_core.sip.via import Via, parse_via, serialize_via

__all__ = ["Message", "Request", "Response", "make_response"]

SIP_VERSION = "SIP/2.0"


class _HeaderAccess:
    """Header accessors shared by requests and responses."""

    __slots__ = ()
    headers: tuple[Header, ...]
    body: bytes

    # -- raw access -----------------------------------------------------------------

    def header(self, name: str) -> str | None:
        """Value of the first header called ``name`` (any case, compact forms too)."""
        key = header_key(name)
        for header in self.headers:
            if header.key == key:
                return header.value
        return None

    def header_values(self, name: str) -> list[str]:
        """Every element of header ``name``, comma-separated lists split (§7.3.1)."""
        key = header_key(name)
        values: list[str] = []
        for header in self.headers:
            if header.key == key:
                values.extend(split_header_list(header.value))
        return values

    def header_lines(self, name: str) -> list[str]:
        """Every value of header ``name`` as separate lines, without list splitting."""
        key = header_key(name)
        return [header.value for header in self.headers if header.key == key]

    def has_header(self, name: str) -> bool:
        """Whether at least one header called ``name`` is present."""
        key = header_key(name)
        return any(header.key == key for header in self.headers)

    # -- typed accessors ------------------------------------------------------------

    def vias(self) -> list[Via]:
        """All Via entries, topmost first."""
        result: list[Via] = []
        for header in self.headers:
            if header.key == "via":
                result.extend(parse_via(header.value))
        return result

    def top_via(self) -> Via:
        """The topmost Via; ``ParseError`` when there is none."""
        for header in self.headers:
            if header.key == "via":
                return parse_via(header.value)[0]
        raise ParseError("missing Via header")

    def _single_address(self, name: str) -> NameAddress:
        value = self.header(name)
        if value is None:
            raise ParseError(f"missing {name} header")
        return parse_name_addr(value)

    def from_(self) -> NameAddress:
        """The From header."""
        return self._single_address("From")

    def to(self) -> NameAddress:
        """The To header."""
        return self._single_address("To")

    @property
    def call_id(self) -> str:
        """The Call-ID; ``ParseError`` when missing."""
        value = self.header("call-id")
        if value is None:
            raise ParseError("missing Call-ID header")
        return value.strip()

    def cseq(self) -> CSeq:
        """The CSeq header."""
        value = self.header("cseq")
        if value is None:
            raise ParseError("missing CSeq header")
        return parse_cseq(value)

    def contacts(self) -> list[NameAddress]:
        """Contact addresses; empty for none. ``Contact: *`` raises (see is_wildcard_contact)."""
        return [parse_name_addr(value) for value in self.header_values("contact")]

    def is_wildcard_contact(self) -> bool:
        """Whether the message carries ``Contact: *`` (RFC 3261 §10.2.2)."""
        return any(value.strip() == "*" for value in self.header_values("contact"))

    def routes(self) -> list[NameAddress]:
        """Route entries, topmost first."""
        return [parse_name_addr(value) for value in self.header_values("route")]

    def record_routes(self) -> list[NameAddress]:
        """Record-Route entries, topmost first."""
        return [parse_name_addr(value) for value in self.header_values("record-route")]

    def expires(self) -> int | None:
        """The Expires header as seconds, ``None`` when absent."""
        value = self.header("expires")
        if value is None:
            return None
        text = value.strip()
        if not text.isdigit():
            raise ParseError(f"malformed Expires {value!r}")
        return min(int(text), 2**32 - 1)

    def tokens(self, name: str) -> list[str]:
        """Option tags or methods of a list header (Require, Supported, Allow...), lower case."""
        return [value.lower() for value in self.header_values(name)]


def _prepend(headers: tuple[Header, ...], name: str, value: str) -> tuple[Header, ...]:
    return (make_header(name, value), *headers)


def _insert_before_first(headers: tuple[Header, ...], name: str, value: str) -> tuple[Header, ...]:
    """Insert before the first header of the same kind, or first of all if none."""
    new = make_header(name, value)
    for index, header in enumerate(headers):
        if header.key == new.key:
            return (*headers[:index], new, *headers[index:])
    return (new, *headers)


def _replace_first(headers: tuple[Header, ...], name: str, value: str) -> tuple[Header, ...]:
    key = header_key(name)
    for index, header in enumerate(headers):
        if header.key == key:
            return (*headers[:index], Header(key, header.name, value), *headers[index + 1 :])
    return (*headers, make_header(name, value))


def _remove_all(headers: tuple[Header, ...], name: str) -> tuple[Header, ...]:
    key = header_key(name)
    return tuple(header for header in headers if header.key != key)


def _pop_first_value(headers: tuple[Header, ...], name: str) -> tuple[Header, ...]:
    """Remove the first list element of header ``name`` (e.g. the top Via or Route)."""
    key = header_key(name)
    for index, header in enumerate(headers):
        if header.key == key:
            rest = split_header_list(header.value)[1:]
            if rest:
                kept = Header(key, header.name, ", ".join(rest))
                return (*headers[:index], kept, *headers[index + 1 :])
            return (*headers[:index], *headers[index + 1 :])
    return headers


def _serialize_headers(out: list[str], headers: Iterable[Header]) -> None:
    for header in headers:
        out.append(f"{header.name}: {header.value}\r\n")


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
        headers = self.headers if content_type is None else _replace_first(self.headers, "Content-Type", content_type)
        return replace(self, body=body, headers=headers)

    def prepend(self, name: str, value: str) -> Request:
        """Copy with a header inserted before every other header."""
        return replace(self, headers=_prepend(self.headers, name, value))

    def insert_first(self, name: str, value: str) -> Request:
        """Copy with a header inserted before the first header of the same name."""
        return replace(self, headers=_insert_before_first(self.headers, name, value))

    def set_header(self, name: str, value: str) -> Request:
        """Copy with the first header ``name`` replaced (or appended)."""
        return replace(self, headers=_replace_first(self.headers, name, value))

    def append(self, name: str, value: str) -> Request:
        """Copy with a header appended after all others."""
        return replace(self, headers=(*self.headers, make_header(name, value)))

    def remove(self, name: str) -> Request:
        """Copy without any header ``name``."""
        return replace(self, headers=_remove_all(self.headers, name))

    def pop_first_value(self, name: str) -> Request:
        """Copy without the first element of list header ``name`` (top Route...)."""
        return replace(self, headers=_pop_first_value(self.headers, name))

    def __bytes__(self) -> bytes:
        out = [f"{self.method} {serialize_uri(self.uri)} {self.version}\r\n"]
        _serialize_headers(out, self.headers)
        out.append(f"Content-Length: {len(self.body)}\r\n\r\n")
        return "".join(out).encode("utf-8", "surrogateescape") + self.body


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

    def prepend(self, name: str, value: str) -> Response:
        """Copy with a header inserted before every other header."""
        return replace(self, headers=_prepend(self.headers, name, value))

    def set_header(self, name: str, value: str) -> Response:
        """Copy with the first header ``name`` replaced (or appended)."""
        return replace(self, headers=_replace_first(self.headers, name, value))

    def append(self, name: str, value: str) -> Response:
        """Copy with a header appended after all others."""
        return replace(self, headers=(*self.headers, make_header(name, value)))

    def remove(self, name: str) -> Response:
        """Copy without any header ``name``."""
        return replace(self, headers=_remove_all(self.headers, name))

    def pop_first_value(self, name: str) -> Response:
        """Copy without the first element of list header ``name`` (top Via...)."""
        return replace(self, headers=_pop_first_value(self.headers, name))

    def __bytes__(self) -> bytes:
        out = [f"{self.version} {self.status_code} {self.reason}\r\n"]
        _serialize_headers(out, self.headers)
        out.append(f"Content-Length: {len(self.body)}\r\n\r\n")
        return "".join(out).encode("utf-8", "surrogateescape") + self.body


Message = Request | Response

# Headers copied from a request into a response it answers (RFC 3261 §8.2.6.2).
_COPIED_INTO_RESPONSE = ("via", "from", "call-id", "cseq")


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

    Via, From, Call-ID, CSeq and To are copied; ``to_tag`` is added to To when the request
    had none (a 100 Trying never gets one, §8.2.6.2). Extra ``headers`` follow.
    """
    copied: list[Header] = []
    to_header: Header | None = None
    for header in request.headers:
        if header.key in _COPIED_INTO_RESPONSE:
            copied.append(header)
        elif header.key == "to" and to_header is None:
            to_header = header
        elif header.key == "timestamp" and status_code == 100:
            copied.append(header)  # §8.2.6.1: 100 Trying echoes Timestamp
    if to_header is not None:
        if to_tag is not None and status_code != 100:
            address = parse_name_addr(to_header.value)
            if address.tag is None:
                to_header = Header("to", to_header.name, serialize_name_addr(address.with_param("tag", to_tag)))
        copied.insert(min(len(copied), 2), to_header)
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

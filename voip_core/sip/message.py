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
``repr`` or ``dataclasses.replace`` (a copy made that way starts with an empty memo).
The edit methods below carry it over instead: a copy with the same header lines (new
Request-URI or body) shares it, and a copy whose edit changed the lines of one header
key keeps everything computed for the other keys (``carried_memo``), so a proxy that
pops a Via or a Route does not parse the rest of the message again. Accessors that
return lists return fresh lists, so callers cannot alter the memo.

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
from dataclasses import dataclass

from voip_core.sip._access import HeaderAccess, HeaderMemo, carried_memo
from voip_core.sip._header_edit import (
    insert_before_first,
    pop_first_value,
    prepend,
    remove_all,
    replace_first,
    replace_first_value,
    serialize_message,
)
from voip_core.sip._slots import member_setter, slot_setters
from voip_core.sip.address import serialize_name_addr
from voip_core.sip.headers import Header, header_key, make_header
from voip_core.sip.status import reason_phrase
from voip_core.sip.uri import Uri, serialize_uri
from voip_core.sip.via import Via, serialize_via

__all__ = ["SIP_VERSION", "Message", "Request", "Response", "format_via", "make_response"]

SIP_VERSION = "SIP/2.0"


@dataclass(frozen=True, slots=True)
class Request(HeaderAccess):
    """A SIP request."""

    method: str
    uri: Uri
    headers: tuple[Header, ...]
    body: bytes = b""
    version: str = SIP_VERSION

    def with_uri(self, uri: Uri) -> Request:
        """Copy with a new Request-URI."""
        # Same header lines: the copy shares the memo (see the module docstring).
        return new_request(self.method, uri, self.headers, self.body, self.version, self._memo())

    def with_headers(self, headers: tuple[Header, ...]) -> Request:
        """Copy with a new header tuple."""
        return new_request(self.method, self.uri, headers, self.body, self.version, HeaderMemo())

    def with_body(self, body: bytes, content_type: str | None = None) -> Request:
        """Copy with a new body (and Content-Type when given)."""
        if content_type is None:
            memo = self._memo()
            return new_request(self.method, self.uri, self.headers, body, self.version, memo)
        headers = replace_first(self.headers, "Content-Type", content_type)
        memo = carried_memo(self, headers, "content-type")
        return new_request(self.method, self.uri, headers, body, self.version, memo)

    def _edited(self, headers: tuple[Header, ...], name: str) -> Request:
        memo = carried_memo(self, headers, header_key(name))
        return new_request(self.method, self.uri, headers, self.body, self.version, memo)

    def prepend(self, name: str, value: str) -> Request:
        """Copy with a header inserted before every other header."""
        return self._edited(prepend(self.headers, name, value), name)

    def insert_first(self, name: str, value: str) -> Request:
        """Copy with a header inserted before the first header of the same name."""
        return self._edited(insert_before_first(self.headers, name, value), name)

    def set_header(self, name: str, value: str) -> Request:
        """Copy with the first header ``name`` replaced (or appended)."""
        return self._edited(replace_first(self.headers, name, value), name)

    def append(self, name: str, value: str) -> Request:
        """Copy with a header appended after all others."""
        return self._edited((*self.headers, make_header(name, value)), name)

    def remove(self, name: str) -> Request:
        """Copy without any header ``name``."""
        return self._edited(remove_all(self.headers, name), name)

    def pop_first_value(self, name: str) -> Request:
        """Copy without the first element of list header ``name`` (top Route...)."""
        return self._edited(pop_first_value(self.headers, name), name)

    def replace_first_value(self, name: str, value: str) -> Request:
        """Copy with the first element of list header ``name`` replaced (top Via...)."""
        return self._edited(replace_first_value(self.headers, name, value), name)

    def with_edits(
        self,
        *,
        uri: Uri | None = None,
        replace: Iterable[tuple[str, str]] = (),
        prepend: Iterable[tuple[str, str]] = (),
    ) -> Request:
        """Copy with several edits made at once, as a proxy forwards a request (§16.6):
        a new Request-URI, the first header of each name in ``replace`` replaced (or
        appended), then the headers of ``prepend`` put before every other header, in
        their order (the first ends on top). The same as the single edits one after
        the other, for one copy and one memo."""
        headers = self.headers
        keys: list[str] = []
        for name, value in replace:
            headers = replace_first(headers, name, value)
            keys.append(header_key(name))
        added = tuple(make_header(name, value) for name, value in prepend)
        if added:
            headers = (*added, *headers)
            keys.extend(header.key for header in added)
        memo = carried_memo(self, headers, *keys)
        uri = self.uri if uri is None else uri
        return new_request(self.method, uri, headers, self.body, self.version, memo)

    def __bytes__(self) -> bytes:
        start_line = f"{self.method} {serialize_uri(self.uri)} {self.version}\r\n"
        return serialize_message(start_line, self.headers, self.body)


@dataclass(frozen=True, slots=True)
class Response(HeaderAccess):
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
        return new_response(
            self.status_code, self.reason, headers, self.body, self.version, HeaderMemo()
        )

    def with_body(self, body: bytes, content_type: str | None = None) -> Response:
        """Copy with a new body (and Content-Type when given)."""
        if content_type is None:
            memo = self._memo()
            code, reason = self.status_code, self.reason
            return new_response(code, reason, self.headers, body, self.version, memo)
        headers = replace_first(self.headers, "Content-Type", content_type)
        memo = carried_memo(self, headers, "content-type")
        return new_response(self.status_code, self.reason, headers, body, self.version, memo)

    def _edited(self, headers: tuple[Header, ...], name: str) -> Response:
        memo = carried_memo(self, headers, header_key(name))
        return new_response(self.status_code, self.reason, headers, self.body, self.version, memo)

    def prepend(self, name: str, value: str) -> Response:
        """Copy with a header inserted before every other header."""
        return self._edited(prepend(self.headers, name, value), name)

    def insert_first(self, name: str, value: str) -> Response:
        """Copy with a header inserted before the first header of the same name."""
        return self._edited(insert_before_first(self.headers, name, value), name)

    def set_header(self, name: str, value: str) -> Response:
        """Copy with the first header ``name`` replaced (or appended)."""
        return self._edited(replace_first(self.headers, name, value), name)

    def append(self, name: str, value: str) -> Response:
        """Copy with a header appended after all others."""
        return self._edited((*self.headers, make_header(name, value)), name)

    def remove(self, name: str) -> Response:
        """Copy without any header ``name``."""
        return self._edited(remove_all(self.headers, name), name)

    def pop_first_value(self, name: str) -> Response:
        """Copy without the first element of list header ``name`` (top Via...)."""
        return self._edited(pop_first_value(self.headers, name), name)

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
_SET_PARSED = member_setter(HeaderAccess, "_parsed")
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

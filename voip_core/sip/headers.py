"""Header fields: names, compact forms, and the small structured values (CSeq).

A :class:`Header` keeps the name exactly as it arrived (``v``, ``VIA``, ``X-Foo``) so that
forwarding never rewrites what we do not understand, plus a canonical lower-case ``key``
(the long form) used for every lookup, which makes lookups case-insensitive and
compact-form aware (RFC 3261 §7.3.1, §7.3.3).

RFC sections covered: RFC 3261 §7.3 (header field format, compact forms of §7.3.3 and
of later RFCs), §20.16 (CSeq, with the §8.1.1.5 bound of 2**31-1 on its number).
Left out: header-specific value grammars other than CSeq (see the via, address and
message modules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, NamedTuple

from voip_core.sip._memo import memoised
from voip_core.sip._slots import slot_setters
from voip_core.sip._syntax import TOKEN, TOKEN_CHARS, excerpt, parse_bounded_int
from voip_core.sip.exceptions import LocalProtocolError, ParseError

__all__ = [
    "CANONICAL_NAMES",
    "COMPACT_FORMS",
    "KNOWN_HEADER_KEYS",
    "LIST_HEADERS",
    "MAX_CSEQ",
    "SINGLE_HEADERS",
    "CSeq",
    "Header",
    "header_key",
    "make_header",
    "parse_cseq",
    "serialize_cseq",
]

#: RFC 3261 §7.3.3 and later RFCs' compact forms, mapped to the canonical lower-case key.
COMPACT_FORMS: Final[dict[str, str]] = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}

#: How we spell headers we create.
CANONICAL_NAMES: Final[dict[str, str]] = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
}

#: Headers whose values are comma-separated lists (RFC 3261 §7.3.1).
LIST_HEADERS: Final = frozenset(
    {
        "via",
        "contact",
        "route",
        "record-route",
        "path",
        "service-route",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
        "accept-encoding",
        "accept-language",
        "content-encoding",
        "allow-events",
    }
)

#: Headers that may appear at most once (RFC 3261 §20 table 2/3): more is a 400 (§16.3).
SINGLE_HEADERS: Final = frozenset(
    {
        "call-id",
        "cseq",
        "from",
        "to",
        "max-forwards",
        "content-length",
        "content-type",
        "expires",
        "min-expires",
    }
)

_CSEQ_RE: Final = re.compile(rf"([0-9]+)[ \t]+({TOKEN})")
_HEADER_NAME_RE: Final = re.compile(rf"[{TOKEN_CHARS}]+")

#: RFC 3261 §8.1.1.5: the CSeq number MUST be less than 2**31.
MAX_CSEQ: Final = 2**31 - 1

_COMMON_NAMES: Final = (
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "In-Reply-To",
    "Max-Forwards",
    "Min-Expires",
    "Min-SE",
    "MIME-Version",
    "Organization",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Path",
    "Priority",
    "Privacy",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Replaces",
    "Reply-To",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Service-Route",
    "Session-Expires",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
)
#: Exact spellings seen on the wire (as registered, lower and upper case), mapped to their
#: key: a hit skips name validation and lower-casing on the parser's hot path. Names not
#: listed take the slow way with the same result.
KNOWN_HEADER_KEYS: Final[dict[str, str]] = {
    spelling: COMPACT_FORMS.get(spelling.lower(), spelling.lower())
    for name in (*_COMMON_NAMES, *COMPACT_FORMS)
    for spelling in (name, name.lower(), name.upper())
}


class Header(NamedTuple):
    """One header field line."""

    key: str
    """Canonical lower-case long name, e.g. ``"via"`` for ``v`` or ``VIA``."""
    name: str
    """The name as written on the wire."""
    value: str
    """The value with folding already replaced by a single space."""


def header_key(name: str) -> str:
    """Canonical lookup key for a header name (lower case, compact forms expanded)."""
    key = KNOWN_HEADER_KEYS.get(name)
    if key is not None:
        return key
    lowered = name.lower()
    return COMPACT_FORMS.get(lowered, lowered)


def make_header(name: str, value: str) -> Header:
    """Build a header with canonical spelling for well-known names.

    The value is stripped of surrounding LWS, as the parser does, so that a built
    message survives a serialise/parse round trip unchanged. A name that is not a token
    or a value containing CR or LF raises :class:`LocalProtocolError`: either would let
    the value inject header lines.
    """
    if not _HEADER_NAME_RE.fullmatch(name):
        raise LocalProtocolError(f"invalid header name {excerpt(name)}")
    if "\r" in value or "\n" in value:
        raise LocalProtocolError(f"CR or LF in value of header {name}: {excerpt(value)}")
    key = header_key(name)
    spelled = CANONICAL_NAMES.get(key)
    if spelled is None:
        spelled = name if len(name) > 1 else "-".join(p.capitalize() for p in key.split("-"))
    return Header(key, spelled, value.strip(" \t"))


@dataclass(frozen=True, slots=True)
class CSeq:
    """The CSeq header: sequence number and method."""

    number: int
    method: str

    def __str__(self) -> str:
        return serialize_cseq(self)


def parse_cseq(value: str) -> CSeq:
    """Parse ``CSeq: 4711 INVITE``; the number must be below 2**31 (RFC 3261 §8.1.1.5)."""
    return _parse_cseq(value)


@memoised
def _parse_cseq(value: str) -> CSeq:
    match = _CSEQ_RE.fullmatch(value.strip(" \t"))
    if match is None:
        raise ParseError(f"malformed CSeq {excerpt(value)}")
    digits, method = match.groups()
    number = int(digits) if len(digits) <= 10 else parse_bounded_int(digits, 10)
    if number is None or number > MAX_CSEQ:
        raise ParseError(f"CSeq number {excerpt(digits, 30)} exceeds 2**31-1")
    cseq = _new(CSeq)
    _SET_NUMBER(cseq, number)
    _SET_METHOD(cseq, method)
    return cseq


_SET_NUMBER, _SET_METHOD = slot_setters(CSeq, ("number", "method"))
_new = object.__new__


def serialize_cseq(cseq: CSeq) -> str:
    """Render a CSeq value."""
    return f"{cseq.number} {cseq.method}"

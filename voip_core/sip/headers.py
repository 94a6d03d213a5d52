"""Header fields: names, compact forms, and the small structured values (CSeq).

A :class:`Header` keeps the name exactly as it arrived (``v``, ``VIA``, ``X-Foo``) so that
forwarding never rewrites what we do not understand, plus a canonical lower-case ``key``
(the long form) used for every lookup, which makes lookups case-insensitive and
compact-form aware (RFC 3261 §7.3.1, §7.3.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, NamedTuple

from voip_core.sip.exceptions import ParseError

__all__ = [
    "CANONICAL_NAMES",
    "COMPACT_FORMS",
    "LIST_HEADERS",
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

_CSEQ_RE: Final = re.compile(r"(\d+)[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)")

#: RFC 3261 §8.1.1.5: the CSeq number MUST be less than 2**31.
MAX_CSEQ: Final = 2**31 - 1


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
    lowered = name.lower()
    return COMPACT_FORMS.get(lowered, lowered)


def make_header(name: str, value: str) -> Header:
    """Build a header with canonical spelling for well-known names."""
    key = header_key(name)
    spelled = CANONICAL_NAMES.get(key)
    if spelled is None:
        spelled = name if len(name) > 1 else "-".join(p.capitalize() for p in key.split("-"))
    return Header(key, spelled, value)


@dataclass(frozen=True, slots=True)
class CSeq:
    """The CSeq header: sequence number and method."""

    number: int
    method: str

    def __str__(self) -> str:
        return serialize_cseq(self)


def parse_cseq(value: str) -> CSeq:
    """Parse ``CSeq: 4711 INVITE``."""
    match = _CSEQ_RE.fullmatch(value.strip())
    if match is None:
        raise ParseError(f"malformed CSeq {value!r}")
    number = int(match.group(1))
    if number > MAX_CSEQ or len(match.group(1)) > 10:
        raise ParseError(f"CSeq number {match.group(1)} exceeds 2**31-1")
    return CSeq(number, match.group(2))


def serialize_cseq(cseq: CSeq) -> str:
    """Render a CSeq value."""
    return f"{cseq.number} {cseq.method}"

"""Answer a malformed request from what the parser could salvage (RFC 3261 §8.2.6.2).

Theory of operation: when :func:`~voip_core.sip.parser.parse_message` fails after the
header block was split, its :class:`ParseError` carries ``raw_headers``, ``is_request``
and ``method``. :func:`make_error_response` builds the reply from those alone, copying
Via (every one, in order), From, To, Call-ID and CSeq verbatim as §8.2.6.2 asks, so the
client can match it to its transaction even when one of those very headers is what was
wrong. The adapter sends it back to the address the request came from (§18.2.2 cannot be
applied to a Via it could not parse), which is why a top Via is only required to look
like ``SIP/2.0/UDP host``: its parameters may be the malformed part (RFC 4475 §3.1.2.1).

No reply is formed for a response, for an ACK (§17.1.1.3: never answered), or without
a usable top Via; the message is then dropped (§18.3, RFC 4475 §3.1.2).

The reason phrase says what was wrong, e.g. ``Bad Request (malformed CSeq 'x')``, kept to
one line of at most :data:`MAX_REASON_LENGTH` characters without control characters,
so it cannot break the status line (§21.4.1 allows any phrase).

RFC sections covered: RFC 3261 §8.2.6.1-§8.2.6.2 (copied headers, To tag), §16.3 step 1
(a proxy answers malformed requests itself), §17.1.1.3 (no reply to ACK), RFC 4475 §3.1.2.
Left out: Warning headers (§20.43) and Retry-After for 503, which callers may append.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from voip_core.sip._syntax import TOKEN
from voip_core.sip.address import parse_name_addr, serialize_name_addr
from voip_core.sip.exceptions import ParseError
from voip_core.sip.headers import Header
from voip_core.sip.message import Response
from voip_core.sip.status import reason_phrase

__all__ = ["MAX_REASON_LENGTH", "make_error_response", "reason_for"]

#: Longest reason phrase we send: long enough for the offending value's start, short
#: enough for any log line and any peer's buffer.
MAX_REASON_LENGTH: Final = 120

_COPIED: Final = frozenset({"via", "from", "to", "call-id", "cseq"})
# sent-protocol and a sent-by-looking word: enough to route the reply by its source.
_USABLE_VIA_RE: Final = re.compile(
    rf"SIP[ \t]*/[ \t]*{TOKEN}[ \t]*/[ \t]*{TOKEN}[ \t]+[A-Za-z0-9\[][^ \t;,]*", re.I
)
# C0 controls, DEL, and the lone surrogates that stand for undecodable bytes
_UNPRINTABLE_RE: Final = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]+")


def make_error_response(error: ParseError, *, to_tag: str | None = None) -> Response | None:
    """The reply to a request that failed to parse, or ``None`` when none can be formed.

    None is returned for responses, ACKs, requests without a usable top Via and requests
    lacking any of From, To, Call-ID and CSeq.

    The status is ``error.status_code`` (400 unless the parser said otherwise, e.g. 501
    for a CSeq/method mismatch on an unknown method, 513 for a message too large). When
    the request's To has no tag one is added (§8.2.6.2): ``to_tag`` if given, otherwise
    one derived from the request's Call-ID, From, CSeq and top Via, so that
    retransmissions of the same bad request get the same reply.
    """
    if not error.is_request or error.method == "ACK":
        return None
    vias = [header for header in error.raw_headers if header.key == "via"]
    if not vias or _USABLE_VIA_RE.match(vias[0].value.lstrip(" \t")) is None:
        return None
    copied: list[Header] = []
    seen: set[str] = set()
    for header in error.raw_headers:
        key = header.key
        if key not in _COPIED or (key in seen and key != "via"):
            continue
        seen.add(key)
        if key == "to":
            header = _with_to_tag(header, to_tag, error.raw_headers)
        copied.append(header)
    if not {"from", "to", "call-id", "cseq"} <= seen:
        # §8.1.1: without these the client cannot match a reply to its request, and a
        # reply lacking them is itself malformed; drop silently (RFC 4475 §3.1.2.18).
        return None
    status = error.status_code if 400 <= error.status_code <= 699 else 400
    return Response(status, reason_for(status, error.reason), tuple(copied))


def reason_for(status_code: int, detail: str) -> str:
    """``"<standard phrase> (<detail>)"`` cleaned and cut to :data:`MAX_REASON_LENGTH`."""
    phrase = reason_phrase(status_code)
    detail = _UNPRINTABLE_RE.sub(" ", detail).strip()
    if not detail:
        return phrase
    room = MAX_REASON_LENGTH - len(phrase) - 3  # " (" and ")"
    if len(detail) > room:
        detail = detail[: room - 3].rstrip() + "..."
    return f"{phrase} ({detail})"


def _with_to_tag(header: Header, to_tag: str | None, raw: tuple[Header, ...]) -> Header:
    try:
        address = parse_name_addr(header.value)
    except ParseError:
        return header  # copied as received: the client still recognises it
    if address.tag is not None:
        return header
    tag = to_tag if to_tag is not None else _derived_tag(raw)
    return Header(header.key, header.name, serialize_name_addr(address.with_param("tag", tag)))


def _derived_tag(raw: tuple[Header, ...]) -> str:
    """A To tag that is the same for every retransmission of one request."""
    firsts: dict[str, str] = {}
    for header in raw:
        firsts.setdefault(header.key, header.value)
    seed = "\x00".join(firsts.get(key, "") for key in ("call-id", "from", "cseq", "via"))
    return hashlib.sha256(seed.encode("utf-8", "surrogateescape")).hexdigest()[:16]

"""Registration bindings (RFC 3261 §10) and the canonical address-of-record.

A :class:`Binding` maps an address-of-record to one contact. It holds plain strings,
numbers and a :class:`~voip_core.sip.peer.Peer` rather than parsed message objects, so
that 100,000 of them stay small in memory and cross storage boundaries unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from voip_core.sip.exceptions import ParseError
from voip_core.sip.peer import Peer
from voip_core.sip.uri import SipUri, Uri, parse_uri, serialize_uri

__all__ = [
    "MAX_AOR_LENGTH",
    "MAX_CALL_ID_LENGTH",
    "MAX_CONTACT_LENGTH",
    "MAX_INSTANCE_ID_LENGTH",
    "MAX_PATH_LENGTH",
    "MAX_USER_AGENT_LENGTH",
    "Binding",
    "aor_uri",
    "canonical_aor",
    "escape_user",
]

# Column sizes of the registration_binding table (voip_core.storage.models); the
# registrar refuses longer values with 400 so that every store can hold every binding.
#: Longest address-of-record accepted.
MAX_AOR_LENGTH: Final = 255
#: Longest Contact URI accepted; phones send 40-150 characters, WebRTC clients ~200.
MAX_CONTACT_LENGTH: Final = 1024
#: Longest Call-ID accepted.
MAX_CALL_ID_LENGTH: Final = 255
#: Longest +sip.instance accepted (a urn:uuid is 45 characters).
MAX_INSTANCE_ID_LENGTH: Final = 255
#: Longest stored User-Agent; longer ones are cut, not refused.
MAX_USER_AGENT_LENGTH: Final = 255
#: Most total characters of stored Path header values.
MAX_PATH_LENGTH: Final = 2048

# RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved )
_USER_SAFE_RE: Final = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/]")


@dataclass(frozen=True, slots=True)
class Binding:
    """One contact bound to an address-of-record."""

    aor: str
    """Canonical address-of-record, ``sip:user@host`` (see :func:`canonical_aor`)."""
    contact: str
    """The Contact URI exactly as registered (no header parameters)."""
    expires_at: float
    """Expiry, epoch seconds UTC."""
    call_id: str
    """Call-ID of the REGISTER that last created or refreshed the binding."""
    cseq: int
    """CSeq number of that REGISTER."""
    source: Peer
    """Where that REGISTER came from: the flow to reach the contact through NAT."""
    registered_at: float
    """When the binding was first registered with this Call-ID, epoch seconds UTC."""
    q: float | None = None
    """Contact preference 0-1 (RFC 3261 §20.10), ``None`` when not given."""
    user_agent: str | None = None
    instance_id: str | None = None
    """``+sip.instance`` without quotes and angle brackets (RFC 5626 §4.1)."""
    reg_id: int | None = None
    """RFC 5626 ``reg-id`` when the binding is an outbound flow, else ``None``."""
    path: tuple[str, ...] = ()
    """RFC 3327 Path header values of the REGISTER, topmost first."""
    temp_gruu: str | None = None
    """Latest temporary GRUU issued for this binding (RFC 5627 §3.2)."""

    def expires_in(self, now: float) -> int:
        """Whole seconds left at ``now``, never negative."""
        return max(0, round(self.expires_at - now))

    def is_expired(self, now: float) -> bool:
        """Whether the binding is gone at ``now``."""
        return self.expires_at <= now

    @property
    def contact_uri(self) -> Uri:
        """The contact parsed as a URI."""
        return parse_uri(self.contact)


def escape_user(user: str) -> str:
    """%-escape a decoded user part for use in a SIP URI (RFC 3261 §19.1.2)."""
    out: list[str] = []
    for char in user:
        if _USER_SAFE_RE.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"%{octet:02X}" for octet in char.encode("utf-8", "surrogateescape"))
    return "".join(out)


def canonical_aor(uri: Uri | str) -> str:
    """The address-of-record of a SIP URI in canonical form (RFC 3261 §10.3 step 5).

    URI parameters, headers and the password are dropped, escapes in the user part are
    decoded and the host is lower-cased. ``sips:`` becomes ``sip:``: it names the same
    user, only the transport requirement differs. The port is kept, as §19.1.4 compares
    it. Other schemes raise ``ParseError`` with 416.
    """
    parsed = parse_uri(uri) if isinstance(uri, str) else uri
    if not isinstance(parsed, SipUri):
        raise ParseError(
            f"address-of-record must be a SIP URI, got {serialize_uri(parsed)!r}", status_code=416
        )
    host = parsed.host.lower()
    if parsed.port is not None:
        host = f"{host}:{parsed.port}"
    user = parsed.user_unescaped
    return f"sip:{host}" if user is None else f"sip:{user}@{host}"


def aor_uri(aor: str) -> SipUri:
    """The canonical AOR as a URI again, with its user part re-escaped."""
    if not aor.startswith("sip:"):
        raise ParseError(f"not a canonical address-of-record: {aor!r}")
    user, at, host_port = aor[4:].rpartition("@")
    text = f"sip:{escape_user(user)}@{host_port}" if at else f"sip:{host_port}"
    parsed = parse_uri(text)
    assert isinstance(parsed, SipUri)
    return parsed

"""name-addr / addr-spec values of From, To, Contact, Route and Record-Route (RFC 3261 §20).

A display name is stored decoded (quotes and backslash escapes removed), so
``"夏邑县政府办公室"`` is the Python string 夏邑县政府办公室; serialising quotes it again.
Without angle brackets, everything after the first ``;`` is a header parameter, never a
URI parameter (RFC 3261 §20).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from voip_core.sip.exceptions import ParseError
from voip_core.sip.grammar import (
    TOKEN_RE,
    Params,
    find_quote_end,
    format_params,
    param_value,
    parse_params,
    quote_string,
    remove_param,
    set_param,
    unquote_string,
)
from voip_core.sip.uri import SipUri, Uri, parse_uri, serialize_uri

__all__ = ["NameAddress", "parse_name_addr", "serialize_name_addr"]

_LWS: Final = " \t"


@dataclass(frozen=True, slots=True)
class NameAddress:
    """A URI with optional display name and header parameters (tag, expires, q, ...)."""

    uri: Uri
    display_name: str | None = None
    params: Params = ()

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (From/To), ``None`` when absent."""
        return param_value(self.params, "tag")

    def param(self, name: str) -> str | None:
        """Header parameter ``name`` (``""`` for a flag), ``None`` when absent."""
        return param_value(self.params, name)

    def with_param(self, name: str, value: str | None) -> NameAddress:
        """Copy with header parameter ``name`` set."""
        return replace(self, params=set_param(self.params, name, value))

    def without_param(self, name: str) -> NameAddress:
        """Copy without header parameter ``name``."""
        return replace(self, params=remove_param(self.params, name))

    @property
    def sip_uri(self) -> SipUri:
        """The URI as a :class:`SipUri`; raises ``ParseError`` for other schemes."""
        if not isinstance(self.uri, SipUri):
            raise ParseError(f"SIP URI expected, got {serialize_uri(self.uri)!r}", status_code=416)
        return self.uri

    def __str__(self) -> str:
        return serialize_name_addr(self)


def parse_name_addr(text: str) -> NameAddress:
    """Parse ``[display-name] <uri> *(;param)`` or ``addr-spec *(;param)``."""
    value = text.strip(_LWS)
    if not value:
        raise ParseError("empty address")
    display: str | None = None
    rest: str
    if value[0] == '"':
        end = find_quote_end(value, 0)
        display = unquote_string(value[:end])
        rest = value[end:].lstrip(_LWS)
        if not rest.startswith("<"):
            raise ParseError(f"'<' expected after display name in {text!r}")
    elif "<" in value:
        lt = value.index("<")
        words = value[:lt].strip(_LWS)
        if words:
            # display-name = *(token LWS) / quoted-string
            for word in words.split():
                if not TOKEN_RE.fullmatch(word):
                    raise ParseError(f"invalid display name {words!r}")
            display = " ".join(words.split())
        rest = value[lt:]
    else:
        uri_text, semi, param_text = value.partition(";")
        uri_text = uri_text.rstrip(_LWS)
        if any(ch in uri_text for ch in _LWS + ">"):
            raise ParseError(f"invalid address {text!r}")
        return NameAddress(
            uri=parse_uri(uri_text),
            params=parse_params(param_text, what=f"address {text!r}") if semi else (),
        )
    gt = rest.find(">")
    if gt < 0:
        raise ParseError(f"missing '>' in address {text!r}")
    uri_text = rest[1:gt]
    if not uri_text or uri_text != uri_text.strip(_LWS):
        raise ParseError(f"whitespace inside <> in address {text!r}")
    after = rest[gt + 1 :].lstrip(_LWS)
    params: Params = ()
    if after:
        if after[0] != ";":
            raise ParseError(f"junk {after!r} after '>' in address {text!r}")
        params = parse_params(after[1:], what=f"address {text!r}")
    return NameAddress(uri=parse_uri(uri_text), display_name=display, params=params)


def serialize_name_addr(address: NameAddress) -> str:
    """Render an address, always in name-addr form (``<...>``) for safety with params."""
    uri = serialize_uri(address.uri)
    if address.display_name:
        head = f"{quote_string(address.display_name)} <{uri}>"
    else:
        head = f"<{uri}>"
    return head + format_params(address.params)

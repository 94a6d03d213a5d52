"""name-addr / addr-spec values of From, To, Contact, Route and Record-Route (RFC 3261 §20).

A display name is stored decoded (quotes and backslash escapes removed), so
``"夏邑县政府办公室"`` is the Python string 夏邑县政府办公室; serialising quotes it again.
Without angle brackets, everything after the first ``;`` is a header parameter, never a
URI parameter (RFC 3261 §20, RFC 4475 §3.3.12/§3.3.13), and a URI containing ``?`` must
be bracketed (RFC 4475 §3.1.2.13).

Theory of operation: the common forms (``"Name" <sip:...>;p=v``, ``Name <sip:...>``,
``sip:...;p=v``, no LWS around ``;``) are matched by one regular expression that embeds
the SIP URI grammar, and the values are built from its groups. Everything else (LWS
around separators, escaped quotes, other URI schemes) goes through a scanner that also
produces the error messages.

RFC sections covered: RFC 3261 §20.10 (Contact, incl. the name-addr/addr-spec rule),
§20.20 (From), §20.30/§20.34 (Record-Route/Route), §20.39 (To), §25.1 (display-name,
quoted-string, generic-param), RFC 4475 §3.1.1.6 (no LWS before ``<`` accepted).
Left out: interpretation of parameter values (``q``, ``expires``), which is left to the
registrar; ``Contact: *`` is not an address (see ``Message.is_wildcard_contact``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from voip_core.sip._memo import memoised
from voip_core.sip._slots import slot_setters
from voip_core.sip._syntax import (
    HEADER_PARAMS,
    PLAIN_PARAMS_RE,
    SIP_URI_BODY,
    SIP_URI_BODY_IN_ADDR_SPEC,
    TOKEN,
    excerpt,
    split_validated_params,
)
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
from voip_core.sip.uri import SipUri, Uri, build_sip_uri, new_sip_uri, parse_uri, serialize_uri

__all__ = ["NameAddress", "check_name_addr", "parse_name_addr", "serialize_name_addr"]

_LWS: Final = " \t"

# Groups: quoted display, token display, scheme, user, password, host, port, URI params,
# URI headers, header params.
_NAME_ADDR_RE: Final = re.compile(
    rf'(?:"([^"\\\r\n]*)"[ \t]*|((?:{TOKEN}[ \t]+)*{TOKEN})[ \t]*)?'
    rf"<((?i:sips?)):{SIP_URI_BODY}>({HEADER_PARAMS})"
)
# Groups: scheme, user, password, host, port, header params.
_ADDR_SPEC_RE: Final = re.compile(rf"((?i:sips?)):{SIP_URI_BODY_IN_ADDR_SPEC}({HEADER_PARAMS})")


@dataclass(frozen=True, slots=True)
class NameAddress:
    """A URI with optional display name and header parameters (tag, expires, q, ...)."""

    uri: Uri
    display_name: str | None = None
    """Decoded display name; ``None`` when absent (``""`` is an empty quoted one)."""
    params: Params = ()
    """Header parameters as written; quoted values keep their quotes."""

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
        """The URI as a :class:`SipUri`; raises ``ParseError`` (416) for other schemes."""
        if not isinstance(self.uri, SipUri):
            raise ParseError(f"SIP URI expected, got {serialize_uri(self.uri)!r}", status_code=416)
        return self.uri

    def __str__(self) -> str:
        return serialize_name_addr(self)


_SET_URI, _SET_DISPLAY_NAME, _SET_PARAMS = slot_setters(
    NameAddress, ("uri", "display_name", "params")
)
_new = object.__new__


def parse_name_addr(text: str) -> NameAddress:
    """Parse ``[display-name] <uri> *(;param)`` or ``addr-spec *(;param)``."""
    return _parse_name_addr(text)


@memoised
def _parse_name_addr(text: str) -> NameAddress:
    # "Name" <sip:...>;tag=<new every call>: the part up to ">" repeats across calls, so
    # it goes through the cache on its own and only the plain parameters are split here.
    gt = text.rfind(">")
    if 0 < gt < len(text) - 1 and PLAIN_PARAMS_RE.fullmatch(text, gt + 1):
        try:
            head = _parse_name_addr(text[: gt + 1])
        except ParseError:
            return _parse_name_addr_uncached(text)  # raises, naming the whole value
        return _new_address(head.uri, head.display_name, split_validated_params(text[gt + 1 :]))
    return _parse_name_addr_uncached(text)


def _new_address(uri: Uri, display: str | None, params: Params) -> NameAddress:
    address = _new(NameAddress)
    _SET_URI(address, uri)
    _SET_DISPLAY_NAME(address, display)
    _SET_PARAMS(address, params)
    return address


def _parse_name_addr_uncached(text: str) -> NameAddress:
    match = _NAME_ADDR_RE.fullmatch(text)
    if match is not None:
        quoted, tokens, scheme, user, password, host, port, uri_params, uri_headers, params = (
            match.groups()
        )
        if tokens is not None:
            display: str | None = " ".join(tokens.split())
        else:
            display = quoted
        port_number = None if port is None else int(port)
        if uri_headers is None and host[0] != "[" and (port_number is None or port_number < 65536):
            uri = new_sip_uri(
                scheme if scheme == "sip" else scheme.lower(),
                host,
                user,
                password,
                port_number,
                split_validated_params(uri_params) if uri_params else (),
                (),
            )
        else:
            end = match.end(9) if uri_headers is not None else match.end(8)
            uri = build_sip_uri(
                scheme.lower(),
                text[match.start(3) : end],
                user,
                password,
                host,
                port,
                uri_params,
                uri_headers,
            )
    else:
        match = _ADDR_SPEC_RE.fullmatch(text)
        if match is None:
            return _parse_name_addr_slowly(text)
        scheme, user, password, host, port, params = match.groups()
        display = None
        uri = build_sip_uri(scheme.lower(), text, user, password, host, port, None, None)
    return _new_address(uri, display, split_validated_params(params) if params else ())


def check_name_addr(text: str) -> None:
    """Raise :class:`ParseError` unless ``text`` parses as an address."""
    _parse_name_addr(text)


def _parse_name_addr_slowly(text: str) -> NameAddress:
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
            raise ParseError(f"'<' expected after display name in {excerpt(text)}")
    elif "<" in value:
        lt = value.index("<")
        words = value[:lt].strip(_LWS)
        if words:
            # display-name = *(token LWS) / quoted-string
            for word in words.split():
                if not TOKEN_RE.fullmatch(word):
                    raise ParseError(f"invalid display name {excerpt(words)}")
            display = " ".join(words.split())
        rest = value[lt:]
    else:
        return _parse_addr_spec(value, text)
    gt = rest.find(">")
    if gt < 0:
        raise ParseError(f"missing '>' in address {excerpt(text)}")
    uri_text = rest[1:gt]
    if not uri_text or uri_text != uri_text.strip(_LWS):
        raise ParseError(f"whitespace inside <> in address {excerpt(text)}")
    after = rest[gt + 1 :].lstrip(_LWS)
    params: Params = ()
    if after:
        if after[0] != ";":
            raise ParseError(f"junk {excerpt(after)} after '>' in address {excerpt(text)}")
        if not after[1:].strip(_LWS):
            raise ParseError(f"empty parameter in address {excerpt(text)}")
        params = parse_params(after[1:], what=f"address {excerpt(text)}")
    return NameAddress(uri=parse_uri(uri_text), display_name=display, params=params)


def _parse_addr_spec(value: str, text: str) -> NameAddress:
    uri_text, semi, param_text = value.partition(";")
    uri_text = uri_text.rstrip(_LWS)
    if any(ch in uri_text for ch in " \t>"):
        raise ParseError(f"invalid address {excerpt(text)}")
    if "?" in uri_text:
        # RFC 3261 §20: a URI with "," "?" or ";" must be enclosed in "<" and ">".
        raise ParseError(f"URI with '?' not enclosed in '<>' in address {excerpt(text)}")
    if semi and not param_text.strip(_LWS):
        raise ParseError(f"empty parameter in address {excerpt(text)}")
    return NameAddress(
        uri=parse_uri(uri_text),
        params=parse_params(param_text, what=f"address {excerpt(text)}") if semi else (),
    )


def serialize_name_addr(address: NameAddress) -> str:
    """Render an address, always in name-addr form (``<...>``) for safety with params."""
    uri = serialize_uri(address.uri)
    if address.display_name is not None:
        head = f"{quote_string(address.display_name)} <{uri}>"
    else:
        head = f"<{uri}>"
    return head + format_params(address.params) if address.params else head

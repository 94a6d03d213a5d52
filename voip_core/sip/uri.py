"""SIP, SIPS and TEL URIs (RFC 3261 §19.1, RFC 3966) and other absolute URIs.

``parse_uri`` / ``serialize_uri`` are a symmetric pair. The user part is kept exactly as
written (still %-escaped) so that forwarding never changes it; :attr:`SipUri.user_unescaped`
gives the decoded form used for lookups and comparisons (§19.1.4).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from typing import Final

from voip_core.sip.exceptions import ParseError
from voip_core.sip.grammar import (
    Params,
    format_params,
    param_value,
    parse_params,
    remove_param,
    set_param,
    unescape_percent,
)

__all__ = [
    "AbsoluteUri",
    "SipUri",
    "TelUri",
    "Uri",
    "format_host",
    "parse_host_port",
    "parse_uri",
    "serialize_uri",
    "uri_equal",
]

# RFC 3261 §25.1: hostname / IPv4address; IPv6reference is handled separately.
_HOSTNAME_RE: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.?")
_IPV4_RE: Final = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
# user = 1*( unreserved / escaped / user-unreserved ); password likewise (§25.1)
_USER_RE: Final = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+")
_PASSWORD_RE: Final = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*")
_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_URI_PARAM_RE: Final = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/:&+$]|%[0-9A-Fa-f]{2})+")
_HEADER_PART_RE: Final = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/?:+$]|%[0-9A-Fa-f]{2})*")
_TEL_NUMBER_RE: Final = re.compile(r"\+?[0-9A-Fa-f*#\-.()]+")

#: RFC 3261 §19.1.4: these parameters must match when present in either URI.
_ALWAYS_COMPARED: Final = frozenset({"user", "ttl", "method", "maddr"})


@dataclass(frozen=True, slots=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI."""

    scheme: str
    """``"sip"`` or ``"sips"`` (lower case)."""
    host: str
    """Host as written; IPv6 references keep their brackets, e.g. ``"[2001:db8::1]"``."""
    user: str | None = None
    """User part as written, still %-escaped."""
    password: str | None = None
    port: int | None = None
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def user_unescaped(self) -> str | None:
        """The user part with %-escapes decoded once."""
        return None if self.user is None else unescape_percent(self.user)

    @property
    def host_port(self) -> str:
        """``host`` or ``host:port``."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def transport(self) -> str | None:
        """The ``transport`` URI parameter in lower case, if any."""
        value = param_value(self.params, "transport")
        return value.lower() if value else None

    @property
    def is_loose_router(self) -> bool:
        """Whether the URI carries ``lr`` (RFC 3261 §16.4 / §19.1.1)."""
        return param_value(self.params, "lr") is not None

    def param(self, name: str) -> str | None:
        """Value of URI parameter ``name`` (``""`` for a flag), ``None`` when absent."""
        return param_value(self.params, name)

    def with_param(self, name: str, value: str | None) -> SipUri:
        """Copy with URI parameter ``name`` set."""
        return replace(self, params=set_param(self.params, name, value))

    def without_param(self, name: str) -> SipUri:
        """Copy without URI parameter ``name``."""
        return replace(self, params=remove_param(self.params, name))

    def __str__(self) -> str:
        return serialize_uri(self)


@dataclass(frozen=True, slots=True)
class TelUri:
    """A ``tel:`` URI (RFC 3966): a global (+...) or local number with parameters."""

    number: str
    params: Params = ()

    scheme = "tel"

    def __str__(self) -> str:
        return serialize_uri(self)


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """Any other absolute URI (``mailto:``, ``urn:``, ``isbn:``...), kept verbatim."""

    scheme: str
    body: str

    def __str__(self) -> str:
        return serialize_uri(self)


Uri = SipUri | TelUri | AbsoluteUri


def parse_uri(text: str) -> Uri:
    """Parse a Request-URI or the URI inside a name-addr.

    Raises :class:`ParseError` naming the offending part.
    """
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME_RE.fullmatch(scheme):
        raise ParseError(f"invalid URI {text!r}: no scheme")
    lowered = scheme.lower()
    if lowered in ("sip", "sips"):
        return _parse_sip_uri(lowered, rest, text)
    if lowered == "tel":
        number, _, params = rest.partition(";")
        if not _TEL_NUMBER_RE.fullmatch(number):
            raise ParseError(f"invalid tel URI number {number!r}")
        return TelUri(number=number, params=parse_params(params, what=f"URI {text!r}"))
    if not rest or any(ch in rest for ch in " \t\r\n<>\""):
        raise ParseError(f"invalid URI {text!r}")
    return AbsoluteUri(scheme=scheme, body=rest)


def _parse_sip_uri(scheme: str, rest: str, text: str) -> SipUri:
    user: str | None = None
    password: str | None = None
    at = rest.find("@")
    if at >= 0:
        if rest.find("@", at + 1) >= 0:
            raise ParseError(f"invalid SIP URI {text!r}: more than one '@'")
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, colon, pw = userinfo.partition(":")
        if not _USER_RE.fullmatch(user):
            raise ParseError(f"invalid user part {user!r} in SIP URI")
        if colon:
            if not _PASSWORD_RE.fullmatch(pw):
                raise ParseError(f"invalid password in SIP URI {text!r}")
            password = pw
    hostport, qmark, header_text = rest.partition("?")
    hostport, semi, param_text = hostport.partition(";")
    host, port = parse_host_port(hostport, what=f"SIP URI {text!r}")
    params: Params = ()
    if semi:
        params = parse_params(param_text, what=f"SIP URI {text!r}")
        for name, value in params:
            if not _URI_PARAM_RE.fullmatch(name) or (
                value is not None and not _URI_PARAM_RE.fullmatch(value)
            ):
                raise ParseError(f"invalid URI parameter {name!r} in {text!r}")
    headers: tuple[tuple[str, str], ...] = ()
    if qmark:
        pairs: list[tuple[str, str]] = []
        for item in header_text.split("&"):
            name, eq, value = item.partition("=")
            if not name or not eq or not _HEADER_PART_RE.fullmatch(name + value):
                raise ParseError(f"invalid URI header {item!r} in {text!r}")
            pairs.append((name, value))
        headers = tuple(pairs)
    return SipUri(
        scheme=scheme,
        user=user,
        password=password,
        host=host,
        port=port,
        params=params,
        headers=headers,
    )


def parse_host_port(text: str, *, what: str) -> tuple[str, int | None]:
    """Split and validate ``host[:port]`` (RFC 3261 §25.1 hostport)."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise ParseError(f"unterminated IPv6 reference in {what}")
        host = text[: close + 1]
        _check_ipv6(host[1:-1], what)
        after = text[close + 1 :]
        if not after:
            return host, None
        if after[0] != ":":
            raise ParseError(f"junk {after!r} after IPv6 reference in {what}")
        return host, _parse_port(after[1:], what)
    host, colon, port_text = text.partition(":")
    if not host:
        raise ParseError(f"missing host in {what}")
    if ":" in port_text:
        raise ParseError(f"IPv6 address without brackets in {what}")
    if not (_IPV4_RE.fullmatch(host) or _HOSTNAME_RE.fullmatch(host)):
        raise ParseError(f"invalid host {host!r} in {what}")
    if _IPV4_RE.fullmatch(host) and any(int(octet) > 255 for octet in host.split(".")):
        raise ParseError(f"invalid IPv4 address {host!r} in {what}")
    return host, _parse_port(port_text, what) if colon else None


def _check_ipv6(body: str, what: str) -> None:
    try:
        address = ipaddress.ip_address(body)
    except ValueError:
        # RFC 5118 §4.3: "2001:db8:::192.0.2.1" (three colons) stems from an ABNF bug in
        # RFC 3261; tolerate it by reading the extra colon as part of "::".
        if ":::" in body and body.count(":::") == 1:
            try:
                address = ipaddress.ip_address(body.replace(":::", "::"))
            except ValueError:
                raise ParseError(f"invalid IPv6 address [{body}] in {what}") from None
        else:
            raise ParseError(f"invalid IPv6 address [{body}] in {what}") from None
    if address.version != 6:
        raise ParseError(f"IPv4 address [{body}] inside an IPv6 reference in {what}")


def _parse_port(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 5 or int(text) > 65535:
        raise ParseError(f"invalid port {text!r} in {what}")
    return int(text)


def format_host(host: str) -> str:
    """Bracket a bare IPv6 address; leave hostnames and IPv4 as they are."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def serialize_uri(uri: Uri) -> str:
    """Render a URI (inverse of :func:`parse_uri`)."""
    match uri:
        case SipUri():
            out = [uri.scheme, ":"]
            if uri.user is not None:
                out.append(uri.user)
                if uri.password is not None:
                    out.extend((":", uri.password))
                out.append("@")
            out.append(uri.host)
            if uri.port is not None:
                out.extend((":", str(uri.port)))
            if uri.params:
                out.append(format_params(uri.params))
            if uri.headers:
                out.append("?" + "&".join(f"{name}={value}" for name, value in uri.headers))
            return "".join(out)
        case TelUri():
            return f"tel:{uri.number}{format_params(uri.params)}"
        case AbsoluteUri():
            return f"{uri.scheme}:{uri.body}"


def uri_equal(a: Uri, b: Uri) -> bool:
    """RFC 3261 §19.1.4 URI comparison (SIP/SIPS); other schemes compare textually."""
    if not isinstance(a, SipUri) or not isinstance(b, SipUri):
        return serialize_uri(a).lower() == serialize_uri(b).lower()
    if a.scheme != b.scheme or a.port != b.port or a.host.lower() != b.host.lower():
        return False
    if a.user_unescaped != b.user_unescaped:
        return False
    if (a.password and unescape_percent(a.password)) != (b.password and unescape_percent(b.password)):
        return False
    a_params = {name.lower(): (value or "").lower() for name, value in a.params}
    b_params = {name.lower(): (value or "").lower() for name, value in b.params}
    for name in _ALWAYS_COMPARED | {"transport"}:
        if name in a_params or name in b_params:
            if name == "transport" and (name not in a_params or name not in b_params):
                # transport present in one only: not equal (§19.1.4 example)
                return False
            if a_params.get(name) != b_params.get(name):
                return False
    for name in a_params.keys() & b_params.keys():
        if a_params[name] != b_params[name]:
            return False
    a_headers = {name.lower(): unescape_percent(value) for name, value in a.headers}
    b_headers = {name.lower(): unescape_percent(value) for name, value in b.headers}
    return a_headers == b_headers

"""SIP, SIPS and TEL URIs (RFC 3261 §19.1, RFC 3966) and other absolute URIs.

``parse_uri`` / ``serialize_uri`` are a symmetric pair. The user part and parameters are
kept exactly as written (still %-escaped) so that forwarding never changes them;
:attr:`SipUri.user_unescaped` and :meth:`SipUri.param` give the decoded forms used for
lookups and comparisons (§19.1.2, §19.1.4, RFC 4475 §3.1.1.3).

Theory of operation: a SIP URI is matched in one go against the §25.1 grammar (without
whitespace, which a URI never contains). Only when that fails does :func:`_diagnose`
walk the URI piece by piece to name the offending part. IPv6 references are checked with
:mod:`ipaddress` (see ``host.py``).

RFC sections covered: RFC 3261 §19.1.1 (components), §19.1.2 (escaping), §19.1.4
(comparison), §25.1 (ABNF, host names per RFC 1123 with a letter-initial top label),
RFC 5118 §4 (IPv6 references), RFC 3966 (tel, number syntax only). Left out: the
per-parameter value syntax of §19.1.1 (``ttl`` digits, ``method`` token...), which is
checked only as generic ``paramchar``; DNS resolution (RFC 3263).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from typing import Final, NoReturn, assert_never

from voip_core.sip._memo import memoised
from voip_core.sip._slots import slot_setters
from voip_core.sip._syntax import (
    HNVCHAR,
    PARAMCHAR,
    PASSWORD,
    SIP_URI_BODY_RE,
    USER,
    excerpt,
    split_validated_params,
)
from voip_core.sip.exceptions import ParseError
from voip_core.sip.grammar import (
    Params,
    format_params,
    remove_param,
    set_param,
    unescape_percent,
)
from voip_core.sip.host import build_host_port, format_host, parse_host_port

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

_USER_RE: Final = re.compile(USER)
_PASSWORD_RE: Final = re.compile(PASSWORD)
_URI_PARAM_RE: Final = re.compile(rf"{PARAMCHAR}(?:={PARAMCHAR})?")
_URI_HEADER_RE: Final = re.compile(rf"{HNVCHAR}=(?:{HNVCHAR})?")
_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_TEL_NUMBER_RE: Final = re.compile(r"\+?[0-9A-Fa-f*#\-.()]+")
# Characters that never appear in a URI (§25.1): they end it in the absolute-URI check.
_NOT_IN_URI: Final = frozenset(' \t\r\n<>"')

#: RFC 3261 §19.1.4: these parameters must match when present in either URI.
_ALWAYS_COMPARED: Final = ("user", "ttl", "method", "maddr", "transport")


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
    """URI parameters as written (names and values still %-escaped)."""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def user_unescaped(self) -> str | None:
        """The user part with %-escapes decoded once (``%00`` stays a NUL)."""
        user = self.user
        if user is None or "%" not in user:
            return user
        return unescape_percent(user)

    @property
    def host_port(self) -> str:
        """``host`` or ``host:port``."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def transport(self) -> str | None:
        """The ``transport`` URI parameter, decoded and in lower case, if any."""
        value = self.param_unescaped("transport")
        return value.lower() if value else None

    @property
    def is_loose_router(self) -> bool:
        """Whether the URI carries ``lr`` (RFC 3261 §16.4 / §19.1.1)."""
        return self.param("lr") is not None

    def param(self, name: str) -> str | None:
        """Value of URI parameter ``name`` as written (``""`` for a flag), ``None`` if absent.

        Names match case-insensitively and after %-decoding (RFC 3261 §19.1.4), so
        ``;%6C%72`` is found as ``lr``; the value keeps its escapes, see
        :meth:`param_unescaped`.
        """
        lowered = name.lower()
        for key, value in self.params:
            if (
                key == name
                or key.lower() == lowered
                or ("%" in key and unescape_percent(key).lower() == lowered)
            ):
                return "" if value is None else value
        return None

    def param_unescaped(self, name: str) -> str | None:
        """:meth:`param` with %-escapes in the value decoded once (RFC 4475 §3.1.1.3).

        ``;n%61me=v%61lue%25%34%31`` has ``name`` ``"value%41"``.
        """
        value = self.param(name)
        return unescape_percent(value) if value and "%" in value else value

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
    return _parse_uri(text)


@memoised
def _parse_uri(text: str) -> Uri:
    head = text[:5].lower()
    if head.startswith("sip:"):
        return _parse_sip_uri("sip", text, 4)
    if head == "sips:":
        return _parse_sip_uri("sips", text, 5)
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME_RE.fullmatch(scheme):
        raise ParseError(f"invalid URI {excerpt(text)}: no scheme")
    if scheme.lower() == "tel":
        number, semi, param_text = rest.partition(";")
        if not _TEL_NUMBER_RE.fullmatch(number):
            raise ParseError(f"invalid tel URI number {excerpt(number)}")
        params = _split_uri_params(param_text, text) if semi else ()
        return TelUri(number=number, params=params)
    if not rest or not _NOT_IN_URI.isdisjoint(rest):
        raise ParseError(f"invalid URI {excerpt(text)}")
    return AbsoluteUri(scheme=scheme, body=rest)


_SET_SCHEME, _SET_HOST, _SET_USER, _SET_PASSWORD, _SET_PORT, _SET_PARAMS, _SET_HEADERS = (
    slot_setters(SipUri, ("scheme", "host", "user", "password", "port", "params", "headers"))
)
_new = object.__new__


def new_sip_uri(
    scheme: str,
    host: str,
    user: str | None,
    password: str | None,
    port: int | None,
    params: Params,
    headers: tuple[tuple[str, str], ...],
) -> SipUri:
    """``SipUri(...)`` for already validated values, without the frozen ``__init__``.

    Package-internal hot-path constructor (see ``_slots.py``).
    """
    uri = _new(SipUri)
    _SET_SCHEME(uri, scheme)
    _SET_HOST(uri, host)
    _SET_USER(uri, user)
    _SET_PASSWORD(uri, password)
    _SET_PORT(uri, port)
    _SET_PARAMS(uri, params)
    _SET_HEADERS(uri, headers)
    return uri


def _parse_sip_uri(scheme: str, text: str, start: int) -> SipUri:
    match = SIP_URI_BODY_RE.fullmatch(text, start)
    if match is None:
        _diagnose(text, start)
    user, password, host, port_text, param_text, header_text = match.groups()
    if port_text is None and header_text is None and host[0] != "[":
        params = split_validated_params(param_text) if param_text else ()
        return new_sip_uri(scheme, host, user, password, None, params, ())
    return build_sip_uri(scheme, text, user, password, host, port_text, param_text, header_text)


def build_sip_uri(
    scheme: str,
    text: str,
    user: str | None,
    password: str | None,
    host: str,
    port_text: str | None,
    param_text: str | None,
    header_text: str | None,
) -> SipUri:
    """A :class:`SipUri` from the groups of a successful :data:`SIP_URI_BODY` match.

    Package-internal: the address codec matches whole name-addrs in one expression and
    builds the URI from the groups. ``text`` is the whole URI, for error messages.
    """
    if host[0] == "[" or port_text is not None:
        host, port = build_host_port(host, port_text, f"SIP URI {excerpt(text)}")
    else:
        port = None
    headers: tuple[tuple[str, str], ...] = ()
    if header_text is not None:
        headers = tuple(
            (name, value)
            for name, _, value in (item.partition("=") for item in header_text.split("&"))
        )
    params = split_validated_params(param_text) if param_text else ()
    return new_sip_uri(scheme, host, user, password, port, params, headers)


def _split_uri_params(text: str, uri: str) -> Params:
    """``name[=value]`` items separated by ``;`` (no LWS in a URI)."""
    out: list[tuple[str, str | None]] = []
    for item in text.split(";"):
        if not _URI_PARAM_RE.fullmatch(item):
            raise ParseError(f"invalid URI parameter {excerpt(item)} in {excerpt(uri)}")
        name, eq, value = item.partition("=")
        out.append((name, value if eq else None))
    return tuple(out)


def _diagnose(text: str, start: int) -> NoReturn:
    """Raise the most precise error for a SIP URI that failed the full-grammar match."""
    rest = text[start:]
    for ch in rest:
        if ch in _NOT_IN_URI:
            raise ParseError(f"invalid character {ch!r} in SIP URI {excerpt(text)}")
    at = rest.find("@")
    if at >= 0:
        if rest.find("@", at + 1) >= 0:
            raise ParseError(f"invalid SIP URI {excerpt(text)}: more than one '@'")
        user, colon, password = rest[:at].partition(":")
        if not _USER_RE.fullmatch(user):
            raise ParseError(f"invalid user part {excerpt(user)} in SIP URI")
        if colon and not _PASSWORD_RE.fullmatch(password):
            raise ParseError(f"invalid password in SIP URI {excerpt(text)}")
        rest = rest[at + 1 :]
    hostport, qmark, header_text = rest.partition("?")
    hostport, semi, param_text = hostport.partition(";")
    parse_host_port(hostport, what=f"SIP URI {excerpt(text)}")
    if semi:
        _split_uri_params(param_text, text)
    if qmark:
        for item in header_text.split("&"):
            if not _URI_HEADER_RE.fullmatch(item):
                raise ParseError(f"invalid URI header {excerpt(item)} in {excerpt(text)}")
    raise ParseError(f"invalid SIP URI {excerpt(text)}")  # pragma: no cover - safety net


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
        case _:  # pragma: no cover - the union is closed
            assert_never(uri)


def uri_equal(a: Uri, b: Uri) -> bool:
    """RFC 3261 §19.1.4 URI comparison (SIP/SIPS); other schemes compare textually.

    User and password compare case-sensitively after decoding %-escapes, the host
    case-insensitively (IPv6 references by address value), ports only when both or
    neither have one, ``user``/``ttl``/``method``/``maddr``/``transport`` whenever either
    URI has them, other parameters only when both have them, and headers always.
    """
    if not isinstance(a, SipUri) or not isinstance(b, SipUri):
        return serialize_uri(a).lower() == serialize_uri(b).lower()
    if a.scheme != b.scheme or a.port != b.port or not _same_host(a.host, b.host):
        return False
    if a.user_unescaped != b.user_unescaped:
        return False
    if _unescaped(a.password) != _unescaped(b.password):
        return False
    a_params = _comparable_params(a.params)
    b_params = _comparable_params(b.params)
    for name in _ALWAYS_COMPARED:
        if (name in a_params or name in b_params) and a_params.get(name) != b_params.get(name):
            return False
    for name in a_params.keys() & b_params.keys():
        if a_params[name] != b_params[name]:
            return False
    a_headers = {unescape_percent(name).lower(): unescape_percent(v) for name, v in a.headers}
    b_headers = {unescape_percent(name).lower(): unescape_percent(v) for name, v in b.headers}
    return a_headers == b_headers


def _unescaped(text: str | None) -> str | None:
    return None if text is None else unescape_percent(text)


def _comparable_params(params: Params) -> dict[str, str]:
    """Decoded, lower-cased parameters; the first occurrence of a name wins."""
    out: dict[str, str] = {}
    for name, value in params:
        out.setdefault(unescape_percent(name).lower(), unescape_percent(value or "").lower())
    return out


def _same_host(a: str, b: str) -> bool:
    if a.lower() == b.lower():
        return True
    if a[:1] != "[" or b[:1] != "[":
        return False
    try:
        return ipaddress.ip_address(a[1:-1]) == ipaddress.ip_address(b[1:-1])
    except ValueError:
        return False

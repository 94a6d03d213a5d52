"""The Via header (RFC 3261 §20.42, §18.2.1, RFC 3581).

Theory of operation: ``SIP/2.0/UDP host:port;p=v`` without LWS is matched by one regular
expression; anything else (LWS around ``/``, ``:`` and ``;`` as RFC 4475 §3.1.1.1 uses,
quoted parameter values, other protocol versions) goes through a scanner that also
produces the error messages.

RFC sections covered: RFC 3261 §20.42 and the §25.1 via-parm grammar (sent-protocol,
sent-by, via-ttl/maddr/received/branch must carry a value), RFC 3581 ``rport``, RFC 5118
§4.5 (``received`` with or without IPv6 brackets). Left out: checking that ``received``
is an address and ``ttl`` is 0-255 (kept as written), the magic-cookie rule (the
transaction layer decides what an RFC 2543 branch means).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from voip_core.sip._memo import memoised
from voip_core.sip._slots import slot_setters
from voip_core.sip._syntax import (
    GEN_VALUE,
    HOST,
    PLAIN_VALUE,
    PORT,
    TOKEN,
    excerpt,
    parse_bounded_int,
    split_validated_params,
)
from voip_core.sip.exceptions import ParseError
from voip_core.sip.grammar import (
    Params,
    format_params,
    param_value,
    parse_params,
    set_param,
    split_header_list,
    split_outside_quotes,
)
from voip_core.sip.host import build_host_port, parse_host_port

__all__ = ["MAGIC_COOKIE", "Via", "parse_via", "serialize_via"]

#: RFC 3261 §8.1.1.7: branches of RFC 3261-compliant elements start with this.
MAGIC_COOKIE: Final = "z9hG4bK"

_SENT_PROTOCOL_RE: Final = re.compile(
    rf"({TOKEN})[ \t]*/[ \t]*({TOKEN})[ \t]*/[ \t]*({TOKEN})[ \t]+(.+)",
    re.S,
)
#: via-ttl, via-maddr, via-received and via-branch require a value (§25.1).
_VALUED_PARAMS: Final = frozenset({"branch", "received", "ttl", "maddr"})
# Groups: transport, host, port, params. A valueless branch/received/ttl/maddr fails the
# match, so the slow path reports it.
_FAST_VIA_RE: Final = re.compile(
    rf"SIP/2\.0/({TOKEN}) ({HOST})(?::({PORT}))?"
    rf"((?:;(?:(?!(?i:branch|received|ttl|maddr)(?:;|$)){TOKEN})(?:={GEN_VALUE})?)*+)"
)
# The same parameters without quoted values, on their own.
_VIA_PARAMS_RE: Final = re.compile(
    rf"(?:;(?:(?!(?i:branch|received|ttl|maddr)(?:;|$)){TOKEN})(?:={PLAIN_VALUE})?)++"
)


@dataclass(frozen=True, slots=True)
class Via:
    """One via-parm: ``SIP/2.0/UDP host:port;branch=...``."""

    transport: str
    """Upper-case transport token: UDP, TCP, TLS, WS, WSS, SCTP..."""
    host: str
    port: int | None = None
    params: Params = ()
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter, ``None`` when absent."""
        value = param_value(self.params, "branch")
        return value or None

    @property
    def received(self) -> str | None:
        """The ``received`` parameter, ``None`` when absent."""
        return param_value(self.params, "received") or None

    @property
    def rport(self) -> int | None:
        """The filled-in ``rport`` value (RFC 3581), ``None`` when absent, empty or invalid."""
        value = param_value(self.params, "rport")
        if not value:
            return None
        return parse_bounded_int(value, 5)

    @property
    def wants_rport(self) -> bool:
        """Whether the client asked for symmetric response routing (RFC 3581 §3)."""
        return param_value(self.params, "rport") is not None

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` parameter, ``None`` when absent."""
        return param_value(self.params, "maddr") or None

    @property
    def sent_by(self) -> str:
        """``host[:port]`` as a comparable string (host lower-cased)."""
        host = self.host.lower()
        return host if self.port is None else f"{host}:{self.port}"

    def with_param(self, name: str, value: str | None) -> Via:
        """Copy with parameter ``name`` set."""
        return replace(self, params=set_param(self.params, name, value))

    def __str__(self) -> str:
        return serialize_via(self)


def parse_via(value: str) -> list[Via]:
    """Parse one Via header value, which may hold several comma-separated via-parms."""
    return list(parse_via_line(value))


@memoised
def parse_via_line(value: str) -> tuple[Via, ...]:
    """:func:`parse_via` as a tuple, memoised (package-internal)."""
    if "," not in value:
        return (_parse_via_parm(value.strip(" \t")),)
    return tuple(_parse_via_parm(item) for item in split_header_list(value))


_SET_TRANSPORT, _SET_HOST, _SET_PORT, _SET_PARAMS, _SET_PROTOCOL = slot_setters(
    Via, ("transport", "host", "port", "params", "protocol")
)
_new = object.__new__


def _parse_via_parm(text: str) -> Via:
    # SIP/2.0/UDP host:port;branch=<new every transaction>: the part before ";" repeats,
    # so it goes through the cache on its own and only the parameters are split here.
    semi = text.find(";")
    if semi > 0 and _VIA_PARAMS_RE.fullmatch(text, semi):
        try:
            head = _parse_via_head(text[:semi])
        except ParseError:
            return _parse_via_parm_uncached(text)  # raises, naming the whole value
        via = _new(Via)  # the head, cut at the first ";", has no parameters of its own
        _SET_TRANSPORT(via, head.transport)
        _SET_HOST(via, head.host)
        _SET_PORT(via, head.port)
        _SET_PARAMS(via, split_validated_params(text[semi:]))
        _SET_PROTOCOL(via, head.protocol)
        return via
    return _parse_via_parm_uncached(text)


@memoised
def _parse_via_head(text: str) -> Via:
    return _parse_via_parm_uncached(text)


def _parse_via_parm_uncached(text: str) -> Via:
    match = _FAST_VIA_RE.fullmatch(text)
    if match is None:
        return _parse_via_parm_slowly(text)
    transport, host, port_text, param_text = match.groups()
    port = None if port_text is None else int(port_text)
    if host[0] == "[" or (port is not None and port > 65535):
        host, port = build_host_port(host, port_text, "Via")
    via = _new(Via)
    _SET_TRANSPORT(via, transport if transport.isupper() else transport.upper())
    _SET_HOST(via, host)
    _SET_PORT(via, port)
    _SET_PARAMS(via, split_validated_params(param_text))
    _SET_PROTOCOL(via, "SIP/2.0")
    return via


def _parse_via_parm_slowly(text: str) -> Via:
    match = _SENT_PROTOCOL_RE.fullmatch(text)
    if match is None:
        raise ParseError(f"malformed Via {excerpt(text)}")
    name, version, transport, rest = match.groups()
    pieces = split_outside_quotes(rest, ";")
    # "host : port" with LWS is legal per the ABNF (COLON = SWS ":" SWS)
    sent_by = "".join(pieces[0].split())
    if not sent_by:
        raise ParseError(f"Via {excerpt(text)} has no sent-by")
    host, port = parse_host_port(sent_by, what=f"Via sent-by {excerpt(sent_by)}")
    params: Params = ()
    if len(pieces) > 1:
        param_text = ";".join(pieces[1:])
        if not param_text.strip(" \t"):
            raise ParseError(f"empty parameter in Via {excerpt(text)}")
        params = parse_params(param_text, what="Via")
    _check_valued_params(params)
    return Via(
        transport=transport.upper(),
        host=host,
        port=port,
        params=params,
        protocol=f"{name.upper()}/{version}",
    )


def _check_valued_params(params: Params) -> None:
    for name, value in params:
        if value is None and name.lower() in _VALUED_PARAMS:
            raise ParseError(f"Via parameter {name!r} without a value")


def serialize_via(via: Via) -> str:
    """Render one via-parm (inverse of :func:`parse_via` for a single element)."""
    sent_by = via.host if via.port is None else f"{via.host}:{via.port}"
    return f"{via.protocol}/{via.transport} {sent_by}{format_params(via.params)}"

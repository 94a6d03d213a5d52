"""The Via header (RFC 3261 §20.42, §18.2.1, RFC 3581)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

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
from voip_core.sip.uri import parse_host_port

__all__ = ["MAGIC_COOKIE", "Via", "parse_via", "serialize_via"]

#: RFC 3261 §8.1.1.7: branches of RFC 3261-compliant elements start with this.
MAGIC_COOKIE: Final = "z9hG4bK"

_SENT_PROTOCOL_RE: Final = re.compile(
    r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*"
    r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+(.+)",
    re.S,
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
        """The filled-in ``rport`` value (RFC 3581), ``None`` when absent or empty."""
        value = param_value(self.params, "rport")
        return int(value) if value and value.isdigit() else None

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
    return [_parse_via_parm(item) for item in split_header_list(value)]


def _parse_via_parm(text: str) -> Via:
    match = _SENT_PROTOCOL_RE.fullmatch(text)
    if match is None:
        raise ParseError(f"malformed Via {text!r}")
    name, version, transport, rest = match.groups()
    pieces = split_outside_quotes(rest, ";")
    sent_by = pieces[0].strip()
    if not sent_by or any(ch in sent_by for ch in " \t"):
        # "host : port" with LWS is legal per the ABNF (COLON = SWS ":" SWS)
        sent_by = "".join(sent_by.split())
        if not sent_by:
            raise ParseError(f"Via {text!r} has no sent-by")
    host, port = parse_host_port(sent_by, what=f"Via sent-by {sent_by!r}")
    params = parse_params(";".join(pieces[1:]), what="Via") if len(pieces) > 1 else ()
    for key in ("branch", "received", "ttl", "maddr"):
        if param_value(params, key) == "" and any(k.lower() == key for k, _ in params):
            raise ParseError(f"Via parameter {key!r} without a value")
    return Via(
        transport=transport.upper(),
        host=host,
        port=port,
        params=params,
        protocol=f"{name.upper()}/{version}",
    )


def serialize_via(via: Via) -> str:
    """Render one via-parm (inverse of :func:`parse_via` for a single element)."""
    sent_by = via.host if via.port is None else f"{via.host}:{via.port}"
    return f"{via.protocol}/{via.transport} {sent_by}{format_params(via.params)}"

"""hostport: host names, IPv4 addresses, IPv6 references and ports (RFC 3261 §25.1).

Theory of operation: ``host[:port]`` is matched against the §25.1 grammar in one regular
expression (a top label must start with a letter, so ``256.1.1.1`` is not a host name);
IPv6 references are then checked with :mod:`ipaddress` (cached, since peers repeat
their addresses). When the match fails, :func:`parse_host_port` names what is wrong.

RFC sections covered: RFC 3261 §25.1 hostport, RFC 5118 §4.2 (IPv6 address without
brackets rejected), §4.3/§4.4 (port inside vs outside the brackets), §4.9
(IPv4-mapped), §4.10 (the three-colon form of RFC 3261's faulty ABNF is tolerated).
Left out: RFC 1123 label length limits, name resolution.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Final

from voip_core.sip._syntax import HOST_PORT_RE, excerpt
from voip_core.sip.exceptions import ParseError

__all__ = ["build_host_port", "check_ipv6", "format_host", "parse_host_port"]

_IPV4_LIKE_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]+){3}")


def build_host_port(host: str, port_text: str | None, what: str) -> tuple[str, int | None]:
    """Finish a ``HOST`` / ``PORT`` regular-expression match: IPv6 and port range checks.

    Shared by the URI and Via fast paths; ``what`` names the element in error messages.
    """
    if host[0] == "[":
        check_ipv6(host[1:-1], what)
    if port_text is None:
        return host, None
    port = int(port_text)
    if port > 65535:
        raise ParseError(f"invalid port {port_text!r} in {what}")
    return host, port


def parse_host_port(text: str, *, what: str) -> tuple[str, int | None]:
    """Split and validate ``host[:port]`` (RFC 3261 §25.1 hostport)."""
    match = HOST_PORT_RE.fullmatch(text)
    if match is not None:
        return build_host_port(match.group(1), match.group(2), what)
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise ParseError(f"unterminated IPv6 reference in {what}")
        check_ipv6(text[1:close], what)
        after = text[close + 1 :]
        if after[:1] != ":":
            raise ParseError(f"junk {excerpt(after)} after IPv6 reference in {what}")
        raise ParseError(f"invalid port {excerpt(after[1:])} in {what}")
    host, colon, port_text = text.partition(":")
    if not host:
        raise ParseError(f"missing host in {what}")
    if ":" in port_text:
        raise ParseError(f"IPv6 address without brackets in {what}")
    if _IPV4_LIKE_RE.fullmatch(host):
        raise ParseError(f"invalid IPv4 address {excerpt(host)} in {what}")
    if HOST_PORT_RE.fullmatch(host) is None:
        raise ParseError(f"invalid host {excerpt(host)} in {what}")
    raise ParseError(f"invalid port {excerpt(port_text)} in {what}")


def check_ipv6(body: str, what: str) -> None:
    """Raise :class:`ParseError` unless ``body`` (without brackets) is an IPv6 address."""
    error = _ipv6_error(body)
    if error is not None:
        raise ParseError(f"{error} in {what}")


@functools.lru_cache(maxsize=1024)
def _ipv6_error(body: str) -> str | None:
    """Why ``body`` is not an IPv6 address, or ``None``; cached, as peers repeat theirs."""
    try:
        address = ipaddress.ip_address(body)
    except ValueError:
        # RFC 5118 §4.10: "2001:db8:::192.0.2.1" (three colons) stems from an ABNF bug in
        # RFC 3261; tolerate it by reading the extra colon as part of "::".
        if body.count(":::") != 1:
            return f"invalid IPv6 address [{body}]"
        try:
            address = ipaddress.ip_address(body.replace(":::", "::"))
        except ValueError:
            return f"invalid IPv6 address [{body}]"
    if address.version != 6:
        return f"IPv4 address [{body}] inside an IPv6 reference"
    return None


def format_host(host: str) -> str:
    """Bracket a bare IPv6 address; leave hostnames and IPv4 as they are."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host

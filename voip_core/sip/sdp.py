"""SDP session descriptions (RFC 4566): a parse / serialise pair that keeps every line.

Theory of operation: a description is a list of ``<type>=<value>`` lines. The lines
before the first ``m=`` form the session section, each ``m=`` opens a media section. Both
keep *all* their lines, in order and verbatim (unknown types and attributes included),
so ``serialize_sdp(parse_sdp(data)) == data`` for CRLF-terminated input and a media
bridge can rewrite one line without disturbing the others. Typed views (``origin``,
``connection``, ``attributes``...) are computed from those lines on demand; addresses
are kept as written, IPv6 ones without brackets as SDP spells them (RFC 5118 §4.6).

Parsing is deliberately tolerant where real offers differ from the letter of RFC 4566
(an empty ``s=`` as in RFC 5118 §4.8, bare LF line ends, missing ``t=``) and strict where
a mistake would mislead the bridge: the first line must be ``v=0``, every line must be
``<letter>=<value>``, and ``o=``, ``c=`` and ``m=`` must have their fields.

RFC sections covered: RFC 4566 §5 (line syntax, v/o/s/c/t/m/a), §5.7 (connection with
multicast TTL and count), §5.14 (media, port/count), RFC 5118 §4.6/§4.8 (IPv6 and mixed
address families). Left out: the order rules of §5 beyond "v= first", b=/k=/r=/z= value
syntax (kept verbatim), offer/answer semantics (RFC 3264).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from voip_core.sip._syntax import excerpt
from voip_core.sip.exceptions import LocalProtocolError, ParseError

__all__ = [
    "Connection",
    "MediaDescription",
    "Origin",
    "SdpLine",
    "SessionDescription",
    "parse_connection",
    "parse_origin",
    "parse_sdp",
    "serialize_sdp",
]

#: One ``<type>=<value>`` line: the type letter and the value as written.
SdpLine = tuple[str, str]

_LINE_RE: Final = re.compile(r"([a-z])=(.*)", re.S)
_MEDIA_RE: Final = re.compile(r"([^ ]+) ([0-9]{1,5})(?:/([0-9]{1,5}))? ([^ ]+)((?: [^ ]+)*)")
_CONNECTION_RE: Final = re.compile(r"([^ ]+) ([^ ]+) ([^ /]+)(?:/([0-9]{1,5}))?(?:/([0-9]{1,5}))?")
_ORIGIN_RE: Final = re.compile(r"([^ ]+) ([0-9]+) ([0-9]+) ([^ ]+) ([^ ]+) ([^ ]+)")


@dataclass(frozen=True, slots=True)
class Origin:
    """The ``o=`` line (RFC 4566 §5.2)."""

    username: str
    session_id: str
    session_version: str
    net_type: str
    addr_type: str
    address: str


@dataclass(frozen=True, slots=True)
class Connection:
    """A ``c=`` line (RFC 4566 §5.7): ``IN IP4 224.2.1.1/127/3``."""

    net_type: str
    addr_type: str
    """``IP4`` or ``IP6``."""
    address: str
    """Address as written: IPv4, IPv6 without brackets, or a host name."""
    ttl: int | None = None
    """Multicast TTL (IPv4 multicast only), when given."""
    count: int | None = None
    """Number of consecutive multicast addresses, when given."""


def _attributes(lines: tuple[SdpLine, ...]) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for kind, value in lines:
        if kind == "a":
            name, colon, rest = value.partition(":")
            out.append((name, rest if colon else None))
    return tuple(out)


def _first(lines: tuple[SdpLine, ...], kind: str) -> str | None:
    for line_kind, value in lines:
        if line_kind == kind:
            return value
    return None


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One media section: the ``m=`` line's fields and every line after it, in order."""

    media: str
    """``audio``, ``video``, ``application``..."""
    port: int
    port_count: int | None
    proto: str
    """``RTP/AVP``, ``RTP/SAVPF``, ``UDP/TLS/RTP/SAVPF``..."""
    formats: tuple[str, ...]
    lines: tuple[SdpLine, ...] = ()
    """The section's lines after ``m=`` (``i=``, ``c=``, ``b=``, ``k=``, ``a=``)."""

    @property
    def connection(self) -> Connection | None:
        """The section's own ``c=``, ``None`` when it relies on the session's."""
        value = _first(self.lines, "c")
        return None if value is None else parse_connection(value)

    @property
    def attributes(self) -> tuple[tuple[str, str | None], ...]:
        """``a=`` lines as ``(name, value)``; ``None`` for a flag such as ``sendrecv``."""
        return _attributes(self.lines)

    def attribute(self, name: str) -> str | None:
        """Value of the first ``a=name``, ``""`` for a flag, ``None`` when absent."""
        for key, value in self.attributes:
            if key == name:
                return "" if value is None else value
        return None

    @property
    def m_line(self) -> str:
        """The ``m=`` value as it serialises."""
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        return " ".join((self.media, port, self.proto, *self.formats))


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A whole description: the session-level lines, then the media sections."""

    lines: tuple[SdpLine, ...]
    """Session-level lines in order, starting with ``("v", "0")``."""
    media: tuple[MediaDescription, ...] = ()

    @property
    def origin(self) -> Origin:
        """The ``o=`` line; ``ParseError`` when it is missing."""
        value = _first(self.lines, "o")
        if value is None:
            raise ParseError("SDP without o= line")
        return parse_origin(value)

    @property
    def session_name(self) -> str | None:
        """The ``s=`` value (may be empty in the wild), ``None`` when absent."""
        return _first(self.lines, "s")

    @property
    def connection(self) -> Connection | None:
        """The session-level ``c=``, ``None`` when every media section has its own."""
        value = _first(self.lines, "c")
        return None if value is None else parse_connection(value)

    @property
    def attributes(self) -> tuple[tuple[str, str | None], ...]:
        """Session-level ``a=`` lines as ``(name, value)``."""
        return _attributes(self.lines)

    def media_connection(self, index: int) -> Connection | None:
        """The connection that applies to media section ``index`` (own, else session)."""
        return self.media[index].connection or self.connection


def parse_origin(value: str) -> Origin:
    """Parse an ``o=`` value."""
    match = _ORIGIN_RE.fullmatch(value)
    if match is None:
        raise ParseError(f"malformed SDP origin {excerpt(value)}")
    return Origin(*match.groups())


def parse_connection(value: str) -> Connection:
    """Parse a ``c=`` value."""
    match = _CONNECTION_RE.fullmatch(value)
    if match is None:
        raise ParseError(f"malformed SDP connection {excerpt(value)}")
    net_type, addr_type, address, first, second = match.groups()
    if addr_type == "IP6" and second is not None:
        raise ParseError(f"IPv6 SDP connection with a TTL {excerpt(value)}")
    if addr_type == "IP6" or second is not None:
        # RFC 4566 §5.7: IPv6 multicast has no TTL, so one number is the count.
        ttl, count = (None, first) if addr_type == "IP6" else (first, second)
    else:
        ttl, count = first, None
    return Connection(
        net_type,
        addr_type,
        address,
        None if ttl is None else int(ttl),
        None if count is None else int(count),
    )


def parse_sdp(data: bytes | str) -> SessionDescription:
    """Parse a session description (UTF-8 bytes or text); raises :class:`ParseError`."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    raw_lines = text.split("\n")
    if raw_lines[-1] == "":
        raw_lines.pop()  # the final line's terminator
    lines: list[SdpLine] = []
    for raw in raw_lines:
        line = raw[:-1] if raw.endswith("\r") else raw
        match = _LINE_RE.fullmatch(line)
        if match is None or "\r" in line:
            raise ParseError(f"malformed SDP line {excerpt(line)}")
        lines.append((match.group(1), match.group(2)))
    if not lines or lines[0] != ("v", "0"):
        raise ParseError("SDP must start with v=0")
    session: list[SdpLine] = []
    sections: list[tuple[str, list[SdpLine]]] = []
    for kind, value in lines:
        if kind == "m":
            sections.append((value, []))
        elif sections:
            sections[-1][1].append((kind, value))
        else:
            session.append((kind, value))
    description = SessionDescription(
        tuple(session), tuple(_media(value, tuple(body)) for value, body in sections)
    )
    if _first(description.lines, "o") is not None:
        description.origin  # noqa: B018  # validates the o= line
    for kind, value in lines:
        if kind == "c":
            parse_connection(value)
    return description


def _media(value: str, lines: tuple[SdpLine, ...]) -> MediaDescription:
    match = _MEDIA_RE.fullmatch(value)
    if match is None:
        raise ParseError(f"malformed SDP media line {excerpt(value)}")
    media, port, count, proto, formats = match.groups()
    if int(port) > 65535:
        raise ParseError(f"SDP media port {port} above 65535")
    return MediaDescription(
        media,
        int(port),
        None if count is None else int(count),
        proto,
        tuple(formats.split()),
        lines,
    )


def serialize_sdp(description: SessionDescription) -> bytes:
    """Render a description with CRLF line ends (inverse of :func:`parse_sdp`).

    A value containing CR or LF raises :class:`LocalProtocolError` rather than adding a
    line nobody asked for.
    """
    out: list[str] = []
    for kind, value in description.lines:
        out.append(_line(kind, value))
    for section in description.media:
        out.append(_line("m", section.m_line))
        for kind, value in section.lines:
            out.append(_line(kind, value))
    return "".join(out).encode("utf-8", "surrogateescape")


def _line(kind: str, value: str) -> str:
    if len(kind) != 1 or not "a" <= kind <= "z" or "\r" in value or "\n" in value:
        raise LocalProtocolError(f"invalid SDP line {kind}={excerpt(value)}")
    return f"{kind}={value}\r\n"

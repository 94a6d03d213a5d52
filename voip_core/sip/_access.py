"""Header accessors shared by requests and responses, and their per-message memo.

Theory of operation: :class:`HeaderAccess` is the mixin behind ``Request`` and
``Response`` (``message.py``). Each accessor parses its header on first use and keeps the
typed value in the message's :class:`HeaderMemo`, a private slot that is not a dataclass
field, so it takes no part in equality, hashing, ``repr`` or ``dataclasses.replace``.
Accessors that return lists return fresh lists, so callers cannot alter the memo.

RFC sections covered: RFC 3261 §7.3.1 (list headers), §20 accessors for Via, From, To,
Call-ID, CSeq, Max-Forwards (§20.22), Contact (§10.2.2 wildcard), Route, Record-Route and
Expires (§20.19). Left out: other headers' value grammars (read them as text).
"""

from __future__ import annotations

from typing import Final

from voip_core.sip._syntax import excerpt, parse_bounded_int
from voip_core.sip.address import NameAddress, parse_name_addr
from voip_core.sip.exceptions import ParseError
from voip_core.sip.grammar import split_header_list
from voip_core.sip.headers import CSeq, Header, header_key, parse_cseq
from voip_core.sip.via import Via, parse_via_line

__all__ = ["HeaderAccess", "HeaderMemo", "carried_memo"]

#: RFC 3261 §20.19: delta-seconds above 2**32-1 are read as 2**32-1.
_MAX_DELTA_SECONDS = 2**32 - 1


class HeaderMemo:
    """Typed header values a message has computed so far (``None``: not yet).

    Package-internal: the parser fills one while validating and hands it to
    :func:`new_request` / :func:`new_response`; the accessors fill the rest on demand.
    """

    index: dict[str, str] | None = None
    """First value of every header key."""
    repeated: tuple[str, ...] = ()
    """Keys that occur on more than one header line (valid once ``index`` is set). A
    tuple of strings: the garbage collector stops tracking it, as it would not a set,
    and every lingering transaction holds a few messages."""
    vias: tuple[Via, ...] | None = None
    from_: NameAddress | None = None
    to: NameAddress | None = None
    cseq: CSeq | None = None
    contacts: tuple[NameAddress, ...] | None = None
    routes: tuple[NameAddress, ...] | None = None
    record_routes: tuple[NameAddress, ...] | None = None


#: The memo field that caches the typed value of each header key, for the keys that have one.
_TYPED_FIELDS: Final = {
    "via": "vias",
    "from": "from_",
    "to": "to",
    "cseq": "cseq",
    "contact": "contacts",
    "route": "routes",
    "record-route": "record_routes",
}


def carried_memo(source: HeaderAccess, headers: tuple[Header, ...], *keys: str) -> HeaderMemo:
    """The memo of a copy of ``source`` whose ``headers`` differ only in lines of ``keys``.

    Every edit method changes the lines of the header keys it names and keeps every other
    line in its order, so the first value and repetition of the other keys, and their
    typed values, are what ``source`` computed; only the entries of ``keys`` are taken
    afresh from ``headers`` (their typed values are left to be parsed when asked for).
    """
    memo = HeaderMemo()
    try:
        old = source._parsed
    except AttributeError:
        return memo
    index = old.index
    if index is None:
        return memo
    new_index = index.copy()
    repeated = old.repeated
    memo.vias, memo.from_, memo.to, memo.cseq = old.vias, old.from_, old.to, old.cseq
    memo.contacts, memo.routes, memo.record_routes = old.contacts, old.routes, old.record_routes
    for key in keys:
        values = [header[2] for header in headers if header[0] == key]
        if values:
            new_index[key] = values[0]
        else:
            new_index.pop(key, None)
        if key in repeated:
            repeated = tuple(other for other in repeated if other != key)
        if len(values) > 1:
            repeated = (*repeated, key)
        field = _TYPED_FIELDS.get(key)
        if field is not None:
            setattr(memo, field, None)
    memo.index = new_index
    memo.repeated = repeated
    return memo


class HeaderAccess:
    """Header accessors shared by requests and responses."""

    __slots__ = ("_parsed",)
    headers: tuple[Header, ...]
    body: bytes
    _parsed: HeaderMemo

    def _memo(self) -> HeaderMemo:
        try:
            return self._parsed
        except AttributeError:
            parsed = HeaderMemo()
            object.__setattr__(self, "_parsed", parsed)  # frozen dataclass: bypass on purpose
            return parsed

    def _index(self) -> dict[str, str]:
        """First value of every header key."""
        parsed = self._memo()
        index = parsed.index
        if index is None:
            index = {}
            repeated: set[str] = set()
            for header in self.headers:
                if header.key in index:
                    repeated.add(header.key)
                else:
                    index[header.key] = header.value
            parsed.index = index
            parsed.repeated = tuple(repeated)
        return index

    def _lines(self, key: str) -> list[str]:
        """Values of every header line with ``key``, without list splitting."""
        value = self._index().get(key)
        if value is None:
            return []
        if key not in self._parsed.repeated:
            return [value]
        return [header.value for header in self.headers if header.key == key]

    def _elements(self, key: str) -> list[str]:
        """Every list element of header ``key`` (§7.3.1)."""
        values: list[str] = []
        for value in self._lines(key):
            if "," in value or not value:
                values.extend(split_header_list(value))
            else:
                values.append(value.strip(" \t"))
        return values

    # -- raw access -----------------------------------------------------------------

    def header(self, name: str) -> str | None:
        """Value of the first header called ``name`` (any case, compact forms too)."""
        try:  # the hot accessors read the memo inline; _index() builds it when missing
            index = self._parsed.index
        except AttributeError:
            index = None
        if index is None:
            index = self._index()
        return index.get(header_key(name))

    def header_values(self, name: str) -> list[str]:
        """Every element of header ``name``, comma-separated lists split (§7.3.1)."""
        return self._elements(header_key(name))

    def header_lines(self, name: str) -> list[str]:
        """Every value of header ``name`` as separate lines, without list splitting."""
        return self._lines(header_key(name))

    def has_header(self, name: str) -> bool:
        """Whether at least one header called ``name`` is present."""
        return header_key(name) in self._index()

    # -- typed accessors ------------------------------------------------------------

    def _vias(self) -> tuple[Via, ...]:
        parsed = self._memo()
        vias = parsed.vias
        if vias is None:
            lines = self._lines("via")
            if len(lines) == 1:
                vias = parsed.vias = parse_via_line(lines[0])
            else:
                vias = parsed.vias = tuple(via for line in lines for via in parse_via_line(line))
        return vias

    def vias(self) -> list[Via]:
        """All Via entries, topmost first."""
        return list(self._vias())

    def top_via(self) -> Via:
        """The topmost Via; ``ParseError`` when there is none."""
        try:
            vias = self._parsed.vias
        except AttributeError:
            vias = None
        if vias is None:
            vias = self._vias()
        if not vias:
            raise ParseError("missing Via header")
        return vias[0]

    def _single_address(self, key: str, name: str) -> NameAddress:
        value = self._index().get(key)
        if value is None:
            raise ParseError(f"missing {name} header")
        return parse_name_addr(value)

    def from_(self) -> NameAddress:
        """The From header."""
        try:
            address = self._parsed.from_
        except AttributeError:
            address = None
        if address is None:
            address = self._memo().from_ = self._single_address("from", "From")
        return address

    def to(self) -> NameAddress:
        """The To header."""
        try:
            address = self._parsed.to
        except AttributeError:
            address = None
        if address is None:
            address = self._memo().to = self._single_address("to", "To")
        return address

    @property
    def call_id(self) -> str:
        """The Call-ID; ``ParseError`` when missing."""
        try:
            index = self._parsed.index
        except AttributeError:
            index = None
        if index is None:
            index = self._index()
        value = index.get("call-id")
        if value is None:
            raise ParseError("missing Call-ID header")
        return value.strip()

    def cseq(self) -> CSeq:
        """The CSeq header."""
        try:
            cseq = self._parsed.cseq
        except AttributeError:
            cseq = None
        if cseq is None:
            value = self._index().get("cseq")
            if value is None:
                raise ParseError("missing CSeq header")
            cseq = self._memo().cseq = parse_cseq(value)
        return cseq

    def max_forwards(self) -> int | None:
        """Max-Forwards (0-255), ``None`` when absent (RFC 3261 §20.22)."""
        value = self._index().get("max-forwards")
        if value is None:
            return None
        number = parse_bounded_int(value, 10)
        if number is None:
            raise ParseError(f"malformed Max-Forwards {excerpt(value)}")
        if number > 255:
            raise ParseError(f"Max-Forwards {number} exceeds 255")
        return number

    def _addresses(self, key: str) -> tuple[NameAddress, ...]:
        if key not in self._index():
            return ()
        return tuple(parse_name_addr(value) for value in self._elements(key))

    def contacts(self) -> list[NameAddress]:
        """Contact addresses; empty for none. ``Contact: *`` raises (see is_wildcard_contact)."""
        parsed = self._memo()
        contacts = parsed.contacts
        if contacts is None:
            contacts = parsed.contacts = self._addresses("contact")
        return list(contacts)

    def is_wildcard_contact(self) -> bool:
        """Whether the message carries ``Contact: *`` (RFC 3261 §10.2.2)."""
        return "*" in self._elements("contact")

    def routes(self) -> list[NameAddress]:
        """Route entries, topmost first."""
        try:
            routes = self._parsed.routes
        except AttributeError:
            routes = None
        if routes is None:
            routes = self._memo().routes = self._addresses("route")
        return list(routes)

    def record_routes(self) -> list[NameAddress]:
        """Record-Route entries, topmost first."""
        parsed = self._memo()
        record_routes = parsed.record_routes
        if record_routes is None:
            record_routes = parsed.record_routes = self._addresses("record-route")
        return list(record_routes)

    def expires(self) -> int | None:
        """The Expires header as seconds, ``None`` when absent.

        Values above 2**32-1 read as 2**32-1 (RFC 4475 §3.1.2.4 leaves huge expiry values
        to the element; the registrar caps them with its own maximum anyway).
        """
        value = self._index().get("expires")
        if value is None:
            return None
        number = parse_bounded_int(value, 10)
        if number is None:
            if value.isascii() and value.isdigit():
                return _MAX_DELTA_SECONDS
            raise ParseError(f"malformed Expires {excerpt(value)}")
        return min(number, _MAX_DELTA_SECONDS)

    def tokens(self, name: str) -> list[str]:
        """Option tags or methods of a list header (Require, Supported, Allow...), lower case."""
        return [value.lower() for value in self.header_values(name)]

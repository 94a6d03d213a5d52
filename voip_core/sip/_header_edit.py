"""Pure helpers that edit header tuples and serialise messages, for ``message.py``."""

from __future__ import annotations

from voip_core.sip.grammar import split_header_list
from voip_core.sip.headers import Header, header_key, make_header


def prepend(headers: tuple[Header, ...], name: str, value: str) -> tuple[Header, ...]:
    """``headers`` with a new header first of all."""
    return (make_header(name, value), *headers)


def insert_before_first(headers: tuple[Header, ...], name: str, value: str) -> tuple[Header, ...]:
    """Insert before the first header of the same kind, or first of all if none."""
    new = make_header(name, value)
    for index, header in enumerate(headers):
        if header.key == new.key:
            return (*headers[:index], new, *headers[index:])
    return (new, *headers)


def replace_first(headers: tuple[Header, ...], name: str, value: str) -> tuple[Header, ...]:
    """Replace the value of the first header ``name`` (keeping its spelling) or append."""
    new = make_header(name, value)
    for index, header in enumerate(headers):
        if header.key == new.key:
            kept = Header(new.key, header.name, new.value)
            return (*headers[:index], kept, *headers[index + 1 :])
    return (*headers, new)


def remove_all(headers: tuple[Header, ...], name: str) -> tuple[Header, ...]:
    """``headers`` without any header ``name``."""
    key = header_key(name)
    return tuple(header for header in headers if header.key != key)


def pop_first_value(headers: tuple[Header, ...], name: str) -> tuple[Header, ...]:
    """Remove the first list element of header ``name`` (e.g. the top Via or Route)."""
    key = header_key(name)
    for index, header in enumerate(headers):
        if header.key == key:
            if "," not in header.value:  # one element: drop the line
                return (*headers[:index], *headers[index + 1 :])
            rest = split_header_list(header.value)[1:]
            if rest:
                kept = Header(key, header.name, ", ".join(rest))
                return (*headers[:index], kept, *headers[index + 1 :])
            return (*headers[:index], *headers[index + 1 :])
    return headers


def replace_first_value(headers: tuple[Header, ...], name: str, value: str) -> tuple[Header, ...]:
    """Replace the first list element of header ``name`` (e.g. the top Via), keeping the
    line's spelling and the other elements; insert it first of all if there is none."""
    key = header_key(name)
    for index, header in enumerate(headers):
        if header.key == key:
            if "," in header.value:
                rest = split_header_list(header.value)[1:]
                if rest:
                    value = ", ".join((value, *rest))
            kept = Header(key, header.name, value)
            return (*headers[:index], kept, *headers[index + 1 :])
    return (make_header(name, value), *headers)


def serialize_message(start_line: str, headers: tuple[Header, ...], body: bytes) -> bytes:
    """Start line, headers (minus any Content-Length) and the true Content-Length + body."""
    lines = [f"{name}: {value}\r\n" for key, name, value in headers if key != "content-length"]
    text = f"{start_line}{''.join(lines)}Content-Length: {len(body)}\r\n\r\n"
    return text.encode("utf-8", "surrogateescape") + body

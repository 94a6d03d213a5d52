"""RFC 3261 §25 lexical helpers shared by the URI, address and header codecs.

Theory of operation: header values are kept as text decoded from UTF-8 with
``surrogateescape`` (so bytes that are not UTF-8 survive a round trip unchanged). The
functions here scan such text while honouring quoted strings (with backslash escapes)
and angle brackets, which may both contain the separators ``,`` and ``;``.

Parameter lists take a fast path: one regular-expression match of the common form
(no LWS, no escaped quotes), then a plain split; anything else goes through the scanner,
which accepts LWS around ``;`` and ``=`` (RFC 3261 §25.1 SEMI / EQUAL) and names the
offending parameter when it fails.

RFC sections covered: RFC 3261 §25.1 token, quoted-string / quoted-pair, escaped
(decoded once, §19.1.2), generic-param with SEMI/EQUAL LWS, §7.3.1 comma-separated
lists. Left out: UTF-8 validation of quoted text (non-UTF-8 octets survive through
``surrogateescape``), comments (``( ... )``, only used by Server/User-Agent values).
"""

from __future__ import annotations

import re
from typing import Final

from voip_core.sip._syntax import (
    PARAM_ITEM_RE,
    PLAIN_VALUE,
    SIMPLE_PARAMS_RE,
    TOKEN_CHARS,
    excerpt,
)
from voip_core.sip.exceptions import LocalProtocolError, ParseError

__all__ = [
    "TOKEN_RE",
    "Params",
    "find_quote_end",
    "format_params",
    "has_param",
    "is_token",
    "param_value",
    "parse_params",
    "quote_string",
    "remove_param",
    "set_param",
    "split_header_list",
    "split_outside_quotes",
    "unescape_percent",
    "unquote_string",
]

#: RFC 3261 §25.1 token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
TOKEN_RE: Final = re.compile(rf"[{TOKEN_CHARS}]+")
#: The rest of a quoted string after its opening quote: a backslash escapes any one
#: character (RFC 3261 §25.1 quoted-pair), the first other quote closes it.
_QUOTED_REST: Final = re.compile(r'(?:[^"\\]|\\[\s\S])*"')
#: The characters that matter when splitting a header list without quoted strings.
_LIST_DELIMITERS: Final = re.compile(r"[<>,]")

#: Ordered (name, value) pairs; a value of ``None`` is a parameter without ``=``.
Params = tuple[tuple[str, str | None], ...]


def is_token(text: str) -> bool:
    """Whether ``text`` is a non-empty RFC 3261 token."""
    return TOKEN_RE.fullmatch(text) is not None


def unescape_percent(text: str) -> str:
    """Decode ``%HH`` escapes once (RFC 3261 §19.1.2), keeping invalid sequences as they are.

    The decoded octets are interpreted as UTF-8 with ``surrogateescape`` so that a
    user part like ``null-%00-null`` keeps its NUL instead of being truncated.
    """
    if "%" not in text:
        return text
    raw = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25 and i + 2 < len(raw) and _is_hex_pair(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


def _is_hex_pair(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


def quote_string(text: str) -> str:
    """Render ``text`` as an RFC 3261 quoted-string, escaping ``"`` and ``\\``.

    CR and LF cannot appear in a quoted-string, not even escaped (§25.1 quoted-pair
    excludes them), so they raise :class:`LocalProtocolError` instead of letting a
    display name inject header lines.
    """
    if "\r" in text or "\n" in text:
        raise LocalProtocolError(f"CR or LF in quoted string {excerpt(text)}")
    if "\\" not in text and '"' not in text:
        return f'"{text}"'
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote_string(text: str) -> str:
    """Inverse of :func:`quote_string` for a value that starts and ends with ``"``."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ParseError(f"quoted string expected, got {excerpt(text)}")
    body = text[1:-1]
    if "\\" not in body:
        if '"' in body:
            raise ParseError(f"unescaped quote inside quoted string {excerpt(text)}")
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body):
                raise ParseError(f"dangling backslash in quoted string {excerpt(text)}")
            out.append(body[i + 1])
            i += 2
            continue
        if ch == '"':
            raise ParseError(f"unescaped quote inside quoted string {excerpt(text)}")
        out.append(ch)
        i += 1
    return "".join(out)


def find_quote_end(text: str, start: int) -> int:
    """Index just past the quoted string that opens at ``text[start] == '"'``."""
    match = _QUOTED_REST.match(text, start + 1)
    if match is None:
        raise ParseError(f"unterminated quoted string in {excerpt(text)}")
    return match.end()


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header value into elements (RFC 3261 §7.3.1).

    Commas inside quoted strings and inside ``<...>`` do not separate. Empty elements
    (``a,,b``) are an error, as the ABNF has no empty list members.
    """
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped else []
    parts: list[str] = []
    start = 0
    in_angle = False
    if '"' not in value:
        # Only <, > and , change the state: visit those characters alone (a Route or
        # Via list of 150 characters has a handful), not every character.
        for match in _LIST_DELIMITERS.finditer(value):
            ch = match.group()
            if ch == "<":
                in_angle = True
            elif ch == ">":
                in_angle = False
            elif not in_angle:
                i = match.start()
                parts.append(value[start:i].strip())
                start = i + 1
        parts.append(value[start:].strip())
        if not all(parts):
            raise ParseError(f"empty element in header list {excerpt(value)}")
        return parts
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if ch == '"' and not in_angle:
            i = find_quote_end(value, i)
            continue
        if ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            parts.append(value[start:i].strip())
            start = i + 1
        i += 1
    parts.append(value[start:].strip())
    if any(not part for part in parts):
        raise ParseError(f"empty element in header list {excerpt(value)}")
    return parts


def split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split ``text`` on ``separator`` except inside quoted strings and ``[...]``."""
    if '"' not in text and "[" not in text:
        return text.split(separator)
    parts: list[str] = []
    start = 0
    i = 0
    n = len(text)
    in_bracket = False
    while i < n:
        ch = text[i]
        if ch == '"':
            i = find_quote_end(text, i)
            continue
        if ch == "[":
            in_bracket = True
        elif ch == "]":
            in_bracket = False
        elif ch == separator and not in_bracket:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def parse_params(text: str, *, what: str) -> Params:
    """Parse ``;name[=value]`` pairs; ``text`` is what follows the first ``;`` (or "").

    Values may be tokens, quoted strings (kept with their quotes) or IPv6 references.
    ``what`` names the element for error messages.
    """
    if not text:
        return ()
    if SIMPLE_PARAMS_RE.fullmatch(text):
        if '"' in text:
            return tuple(
                (name, value if eq else None)
                for name, eq, value in PARAM_ITEM_RE.findall(";" + text)
            )
        fast: list[tuple[str, str | None]] = []
        for item in text.split(";"):
            name, eq, value = item.partition("=")
            fast.append((name, value if eq else None))
        return tuple(fast)
    result: list[tuple[str, str | None]] = []
    for raw in split_outside_quotes(text, ";"):
        item = raw.strip()
        if not item:
            raise ParseError(f"empty parameter in {what}")
        name, eq, value = item.partition("=")
        name = name.strip()
        if not is_token(name):
            raise ParseError(f"invalid parameter name {excerpt(name)} in {what}")
        if not eq:
            result.append((name, None))
            continue
        value = value.strip()
        if not value:
            raise ParseError(f"empty value for parameter {excerpt(name)} in {what}")
        if value[0] == '"':
            unquote_string(value)  # validates
        elif not _PARAM_VALUE_RE.fullmatch(value):
            raise ParseError(
                f"invalid value {excerpt(value)} for parameter {excerpt(name)} in {what}"
            )
        result.append((name, value))
    return tuple(result)


# token / host (incl. IPv6 reference) characters; RFC 3261 §25.1 gen-value and via-params
_PARAM_VALUE_RE: Final = re.compile(PLAIN_VALUE)


def format_params(params: Params) -> str:
    """Serialise parameters as ``;name=value`` (inverse of :func:`parse_params`)."""
    return "".join(f";{name}" if value is None else f";{name}={value}" for name, value in params)


def param_value(params: Params, name: str) -> str | None:
    """Value of the first parameter called ``name`` (case-insensitive); ``""`` for a flag.

    Returns ``None`` when the parameter is absent.
    """
    for key, value in params:  # exact spelling first: the usual case, no lower-casing
        if key == name:
            return "" if value is None else value
    lowered = name.lower()
    for key, value in params:
        if key.lower() == lowered:
            return "" if value is None else value
    return None


def has_param(params: Params, name: str) -> bool:
    """Whether a parameter called ``name`` is present (case-insensitive)."""
    return param_value(params, name) is not None


def set_param(params: Params, name: str, value: str | None) -> Params:
    """Return ``params`` with ``name`` set to ``value`` (replaced in place or appended)."""
    lowered = name.lower()
    out: list[tuple[str, str | None]] = []
    replaced = False
    for key, old in params:
        if key.lower() == lowered:
            if not replaced:
                out.append((key, value))
                replaced = True
            continue
        out.append((key, old))
    if not replaced:
        out.append((name, value))
    return tuple(out)


def remove_param(params: Params, name: str) -> Params:
    """Return ``params`` without any parameter called ``name``."""
    lowered = name.lower()
    return tuple((key, value) for key, value in params if key.lower() != lowered)

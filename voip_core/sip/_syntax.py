"""Regular expressions for the RFC 3261 §25.1 ABNF, shared by the codecs' fast paths.

Theory of operation: each codec first tries one precompiled ``fullmatch`` of the whole
value against the common, whitespace-free form of its grammar (a few hundred nanoseconds
in C). Only when that fails does it fall back to a slower scanner that accepts the rarer
legal forms (LWS around separators, quoted strings with escapes) or raises a
:class:`~voip_core.sip.exceptions.ParseError` naming what is wrong. Every pattern here is
therefore a *subset* of the ABNF; the slow paths define the full language.

All patterns spell digits as ``[0-9]``: in a ``str`` pattern ``\\d`` would also accept
other Unicode digits, which ``int()`` then reads differently or rejects.
"""

from __future__ import annotations

import re
from typing import Final

#: token characters (RFC 3261 §25.1): alphanum and - . ! % * _ + ` ' ~
TOKEN_CHARS: Final = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN: Final = rf"[{TOKEN_CHARS}]++"
ESCAPED: Final = r"%[0-9A-Fa-f]{2}"


def _run(chars: str, *, optional: bool = False) -> str:
    """1*( [chars] / escaped ) as runs of plain characters, matched without backtracking.

    Possessive quantifiers are safe because every caller follows the run with a
    character outside ``chars``; they keep the regex engine from retrying every split
    of a long run when the rest of the pattern fails.
    """
    return rf"(?:[{chars}]++|{ESCAPED}){'*+' if optional else '++'}"


# userinfo (§25.1): user = 1*( unreserved / escaped / user-unreserved ); password likewise.
USER: Final = _run(r"A-Za-z0-9\-_.!~*'()&=+$,;?/")
#: addr-spec form (§20): a user part without ";", "?" or "," (those force "<...>")
USER_IN_ADDR_SPEC: Final = _run(r"A-Za-z0-9\-_.!~*'()&=+$/")
PASSWORD: Final = _run(r"A-Za-z0-9\-_.!~*'()&=+$,", optional=True)

# host (§25.1): hostname / IPv4address / IPv6reference. A toplabel starts with a letter,
# which is what keeps "256.1.1.1" from passing as a hostname.
OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"
IPV4: Final = rf"{OCTET}(?:\.{OCTET}){{3}}"
_LABEL: Final = r"[A-Za-z0-9]++(?:-++[A-Za-z0-9]++)*+"
_TOPLABEL: Final = r"[A-Za-z][A-Za-z0-9]*+(?:-++[A-Za-z0-9]++)*+"
HOSTNAME: Final = rf"(?:{_LABEL}\.)*{_TOPLABEL}\.?"
#: bracketed IPv6 candidate; the address itself is checked with :mod:`ipaddress`
IPV6_REFERENCE: Final = r"\[[0-9A-Fa-f:.]++\]"
HOST: Final = rf"(?:{IPV4}|{HOSTNAME}|{IPV6_REFERENCE})"
PORT: Final = r"[0-9]{1,5}"

# uri-parameters and headers (§25.1)
_PARAMCHARS: Final = r"A-Za-z0-9\-_.!~*'()\[\]/:&+$"
PARAMCHAR: Final = _run(_PARAMCHARS)
URI_PARAMS: Final = rf"(?:;{PARAMCHAR}(?:={PARAMCHAR})?)*+"
_HNVCHARS: Final = r"A-Za-z0-9\-_.!~*'()\[\]/?:+$"
HNVCHAR: Final = _run(_HNVCHARS)
URI_HEADERS: Final = (
    rf"{HNVCHAR}={_run(_HNVCHARS, optional=True)}(?:&{HNVCHAR}={_run(_HNVCHARS, optional=True)})*+"
)

#: After "sip:" / "sips:": groups user, password, host, port, params, headers.
SIP_URI_BODY: Final = (
    rf"(?:({USER})(?::({PASSWORD}))?@)?({HOST})(?::({PORT}))?({URI_PARAMS})(?:\?({URI_HEADERS}))?"
)
#: The same in addr-spec form: no parameters or headers, they belong to the header.
SIP_URI_BODY_IN_ADDR_SPEC: Final = (
    rf"(?:({USER_IN_ADDR_SPEC})(?::({PASSWORD}))?@)?({HOST})(?::({PORT}))?"
)

#: gen-value (§25.1) = token / host / quoted-string. Token characters plus ":" cover
#: tokens, host names, IPv4 and bare IPv6 (RFC 3261 via-received); an IPv6 reference
#: is bracketed; the fast path takes quoted strings without backslash escapes only.
SIMPLE_QUOTED: Final = r'"[^"\\\r\n]*+"'
PLAIN_VALUE: Final = rf"(?:[{TOKEN_CHARS}:]++|\[[0-9A-Fa-f:.]++\])"
GEN_VALUE: Final = rf"(?:{PLAIN_VALUE}|{SIMPLE_QUOTED})"
#: *( SEMI generic-param ) without LWS
HEADER_PARAMS: Final = rf"(?:;{TOKEN}(?:={GEN_VALUE})?)*+"

#: 1*( ";" token [ "=" token-or-host ] ): parameters with no LWS and no quoted values
PLAIN_PARAMS: Final = rf"(?:;{TOKEN}(?:={PLAIN_VALUE})?)++"

SIP_URI_BODY_RE: Final = re.compile(SIP_URI_BODY)
PLAIN_PARAMS_RE: Final = re.compile(PLAIN_PARAMS)
HOST_PORT_RE: Final = re.compile(rf"({HOST})(?::({PORT}))?")
SIMPLE_PARAMS_RE: Final = re.compile(rf"{TOKEN}(?:={GEN_VALUE})?(?:;{TOKEN}(?:={GEN_VALUE})?)*")
#: one ``;name[=value]`` item of a validated parameter list, for extraction
PARAM_ITEM_RE: Final = re.compile(rf";({TOKEN})(?:(=)({GEN_VALUE}))?")
DIGITS_RE: Final = re.compile(r"[0-9]+")


def excerpt(text: str, limit: int = 60) -> str:
    """``repr`` of ``text`` cut to ``limit`` characters, for error messages."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + "..."


def parse_bounded_int(text: str, max_digits: int) -> int | None:
    """The value of an ASCII digit string, or ``None`` when not digits or too long.

    Leading zeros do not count towards ``max_digits``. The bound keeps ``int()`` away
    from the 4,300-digit conversion limit and from quadratic conversions.
    """
    if not DIGITS_RE.fullmatch(text):
        return None
    significant = text.lstrip("0")
    if len(significant) > max_digits:
        return None
    return int(significant) if significant else 0


def split_validated_params(text: str) -> tuple[tuple[str, str | None], ...]:
    """Split ``;a=1;b`` that already matched a ``*( ";" name [ "=" value ] )`` pattern."""
    if not text:
        return ()
    if '"' in text:
        return tuple(
            (name, value if eq else None) for name, eq, value in PARAM_ITEM_RE.findall(text)
        )
    if text.count(";") == 1:  # the usual ";tag=..." alone
        name, eq, value = text[1:].partition("=")
        return ((name, value if eq else None),)
    out: list[tuple[str, str | None]] = []
    for item in text[1:].split(";"):
        name, eq, value = item.partition("=")
        out.append((name, value if eq else None))
    return tuple(out)

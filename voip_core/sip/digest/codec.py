"""Digest challenges and credentials, and their header codecs (RFC 7616 §3.3, §3.4).

Theory of operation: a header value is ``Digest`` followed by a comma-separated list of
``name=value`` parameters, each value a token or a quoted string. Parsing first tries one
regex match per parameter over the common, well-formed form (:func:`_split_params_fast`);
anything else falls back to a scanner (:func:`_split_params`) that also accepts empty list
elements (RFC 7230 §7) and raises a :class:`~voip_core.sip.exceptions.ParseError` naming
the problem. Both give the same result wherever the fast path answers. Parameter names
are case-insensitive; each may appear once. Serialisers are the parsers' inverses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from voip_core.sip._syntax import TOKEN_CHARS
from voip_core.sip.digest._private import excerpt
from voip_core.sip.digest.algorithm import ALGORITHMS, DigestAlgorithm
from voip_core.sip.exceptions import ParseError
from voip_core.sip.grammar import TOKEN_RE, find_quote_end, quote_string, unquote_string

__all__ = [
    "DigestChallenge",
    "DigestCredentials",
    "parse_authorization",
    "parse_challenge",
    "serialize_authorization",
    "serialize_challenge",
]

_NC_RE: Final = re.compile(r"[0-9A-Fa-f]{8}")
_SCHEME_RE: Final = re.compile(r"[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+(.*)", re.S)
_LWS: Final = " \t"
# Unquoted parameter values: a token, widened to what real clients send unquoted
# (``uri=sip:host`` from old phones, base64 nonces with ``/`` and ``=``).
_BARE_VALUE_RE: Final = re.compile(r"[^ \t,\"]+")
#: One ``name=value`` of a credentials or challenge list, with the empty elements and
#: whitespace before it (RFC 7230 §7) and the whitespace after it; a comma or the end
#: must follow. Group 2 is a quoted value without its quotes, group 3 a bare one.
_PARAM_RE: Final = re.compile(
    rf"[ \t,]*([{TOKEN_CHARS}]+)[ \t]*=[ \t]*"
    r'(?:"((?:[^"\\]|\\[\s\S])*)"|([^ \t,"]+))[ \t]*(?=,|\Z)'
)
_PARAMS_END_RE: Final = re.compile(r"[ \t,]*")


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """One ``WWW-Authenticate`` / ``Proxy-Authenticate`` digest challenge."""

    realm: str
    nonce: str
    algorithm: DigestAlgorithm = "MD5"
    """``MD5`` when the header has no ``algorithm`` (RFC 7616 §3.3)."""
    opaque: str | None = None
    qop: tuple[str, ...] = ()
    """Offered qop values, lower case; empty for an RFC 2069 challenge."""
    stale: bool = False


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """A parsed ``Authorization`` / ``Proxy-Authorization`` digest answer."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    """As sent; verification refuses anything but the four known names."""
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: str | None = None
    """The nonce-count exactly as sent (8 hex digits); it enters the hash verbatim."""

    @property
    def nonce_count(self) -> int | None:
        """``nc`` as an integer."""
        return None if self.nc is None else int(self.nc, 16)


def _parse_auth_header(value: str, what: str) -> dict[str, tuple[str, bool]]:
    """Split ``Digest name=value, ...`` into lower-case names -> (value, was_quoted)."""
    match = _SCHEME_RE.fullmatch(value)
    if match is None:
        raise ParseError(f"malformed {what} {excerpt(value)}")
    if match.group(1).lower() != "digest":
        raise ParseError(f"unsupported {what} scheme {excerpt(match.group(1))}")
    text = match.group(2)
    params = _split_params_fast(text)
    if params is not None:
        return params
    return _split_params(text, what)


def _split_params_fast(text: str) -> dict[str, tuple[str, bool]] | None:
    """:func:`_split_params` one regex match per parameter, or ``None`` if the text is
    anything but well formed, for :func:`_split_params` to name the problem."""
    params: dict[str, tuple[str, bool]] = {}
    position = 0
    while True:
        found = _PARAM_RE.match(text, position)
        if found is None:
            if _PARAMS_END_RE.fullmatch(text, position) is None:
                return None
            return params or None
        name, quoted, bare = found.groups()
        name = name.lower()
        if name in params:
            return None
        if quoted is None:
            params[name] = (bare, False)
        else:
            params[name] = (unquote_string(f'"{quoted}"') if "\\" in quoted else quoted, True)
        position = found.end()


def _split_params(text: str, what: str) -> dict[str, tuple[str, bool]]:
    params: dict[str, tuple[str, bool]] = {}
    i = 0
    n = len(text)
    while True:
        while i < n and text[i] in _LWS + ",":
            i += 1  # RFC 7230 §7: empty list elements are tolerated
        if i >= n:
            break
        name_match = TOKEN_RE.match(text, i)
        if name_match is None:
            raise ParseError(f"parameter name expected at {excerpt(text[i:])} in {what}")
        name = name_match.group(0).lower()
        i = name_match.end()
        while i < n and text[i] in _LWS:
            i += 1
        if i >= n or text[i] != "=":
            raise ParseError(f"'=' expected after {name!r} in {what}")
        i += 1
        while i < n and text[i] in _LWS:
            i += 1
        if i < n and text[i] == '"':
            end = find_quote_end(text, i)
            parsed = (unquote_string(text[i:end]), True)
            i = end
        else:
            bare = _BARE_VALUE_RE.match(text, i)
            if bare is None:
                raise ParseError(f"value expected for {name!r} in {what}")
            parsed = (bare.group(0), False)
            i = bare.end()
        if name in params:
            raise ParseError(f"duplicate parameter {name!r} in {what}")
        params[name] = parsed
        while i < n and text[i] in _LWS:
            i += 1
        if i < n and text[i] != ",":
            raise ParseError(f"',' expected after {name!r} in {what}")
    if not params:
        raise ParseError(f"no parameters in {what}")
    return params


def _required(params: dict[str, tuple[str, bool]], name: str, what: str) -> str:
    try:
        return params[name][0]
    except KeyError:
        raise ParseError(f"missing {name} in {what}") from None


def parse_authorization(value: str) -> DigestCredentials:
    """Parse an ``Authorization`` / ``Proxy-Authorization`` value; only ``ParseError`` escapes."""
    what = "Authorization"
    params = _parse_auth_header(value, what)
    nc = params.get("nc", (None, False))[0]
    if nc is not None and not _NC_RE.fullmatch(nc):
        raise ParseError(f"malformed nc {excerpt(nc)} in {what}: 8 hex digits expected")
    qop = params.get("qop", (None, False))[0]
    return DigestCredentials(
        username=_required(params, "username", what),
        realm=_required(params, "realm", what),
        nonce=_required(params, "nonce", what),
        uri=_required(params, "uri", what),
        response=_required(params, "response", what),
        algorithm=params.get("algorithm", ("MD5", False))[0],
        cnonce=params.get("cnonce", (None, False))[0],
        opaque=params.get("opaque", (None, False))[0],
        qop=None if qop is None else qop.lower(),
        nc=nc,
    )


def serialize_authorization(credentials: DigestCredentials) -> str:
    """Render credentials (inverse of :func:`parse_authorization`)."""
    parts = [
        f"username={quote_string(credentials.username)}",
        f"realm={quote_string(credentials.realm)}",
        f"nonce={quote_string(credentials.nonce)}",
        f"uri={quote_string(credentials.uri)}",
        f"response={quote_string(credentials.response)}",
        f"algorithm={credentials.algorithm}",
    ]
    if credentials.cnonce is not None:
        parts.append(f"cnonce={quote_string(credentials.cnonce)}")
    if credentials.opaque is not None:
        parts.append(f"opaque={quote_string(credentials.opaque)}")
    if credentials.qop is not None:
        parts.append(f"qop={credentials.qop}")
    if credentials.nc is not None:
        parts.append(f"nc={credentials.nc}")
    return "Digest " + ", ".join(parts)


def parse_challenge(value: str) -> DigestChallenge:
    """Parse a ``WWW-Authenticate`` / ``Proxy-Authenticate`` digest challenge."""
    what = "challenge"
    params = _parse_auth_header(value, what)
    algorithm_text = params.get("algorithm", ("MD5", False))[0]
    algorithm = ALGORITHMS.get(algorithm_text.lower())
    if algorithm is None:
        raise ParseError(f"unsupported digest algorithm {excerpt(algorithm_text)} in {what}")
    qop_text = params.get("qop", ("", False))[0]
    qop = tuple(item.strip().lower() for item in qop_text.split(",") if item.strip())
    return DigestChallenge(
        realm=_required(params, "realm", what),
        nonce=_required(params, "nonce", what),
        algorithm=algorithm,
        opaque=params.get("opaque", (None, False))[0],
        qop=qop,
        stale=params.get("stale", ("false", False))[0].lower() == "true",
    )


def serialize_challenge(challenge: DigestChallenge) -> str:
    """Render a challenge (inverse of :func:`parse_challenge`)."""
    parts = [f"realm={quote_string(challenge.realm)}", f"nonce={quote_string(challenge.nonce)}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={quote_string(challenge.opaque)}")
    parts.append(f"algorithm={challenge.algorithm}")
    if challenge.qop:
        parts.append(f"qop={quote_string(','.join(challenge.qop))}")
    if challenge.stale:
        parts.append("stale=true")
    return "Digest " + ", ".join(parts)

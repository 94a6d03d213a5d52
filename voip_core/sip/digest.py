"""HTTP digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760).

Theory of operation
-------------------
A server (registrar 401, proxy 407) answers an unauthenticated request with one
challenge per algorithm, SHA-256 first and MD5 second (RFC 8760 §2.4: in order of
preference), all sharing one nonce and one opaque, each with ``qop="auth"``. The client
picks the strongest algorithm it knows and answers with ``Authorization`` (or
``Proxy-Authorization``); :func:`verify_credentials` checks that answer against the HA1
stored for the user. Passwords are never stored or needed: HA1 =
H(username ":" realm ":" password) is enough to verify (RFC 7616 §3.4.2).

Nonces are stateless: ``base64url(timestamp_ms ‖ random ‖ HMAC-SHA256(secret,
timestamp_ms ‖ random)[:16])``, so every worker process configured with the same
secret validates every nonce without shared state. A nonce older than the configured
lifetime is *stale*: when the digest computed with it is otherwise correct, the server
challenges again with ``stale=true`` and the client retries without asking its user
(RFC 7616 §3.3). The opaque value is an HMAC of the nonce, so it needs no state either.

Replay protection follows RFC 7616 §3.3/§5.10: with ``qop=auth`` the client numbers
each use of a nonce with ``nc``, and :class:`NonceManager` remembers the last ``nc``
per nonce in a bounded table. Entries leave the table when their nonce expires; when the
table is full, the oldest entry is evicted and every nonce issued up to that one's
timestamp is treated as stale from then on, so eviction can never make a replay pass.
Limitation: the table is per process. With several worker processes behind one
address, a captured request could be replayed once against each other worker until the
nonce expires; deployments that need more run one registrar process per nonce secret
or keep the lifetime short.

A wrong password and an unknown user are indistinguishable on the wire: both end in
the same challenge (fresh nonce, ``stale`` absent) built by the same code, and the
unknown user's response is still checked against a dummy HA1 so that both paths cost
the same. Every secret comparison uses :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

from voip_core.sip._syntax import TOKEN_CHARS
from voip_core.sip.exceptions import LocalProtocolError, ParseError
from voip_core.sip.grammar import TOKEN_RE, find_quote_end, quote_string, unquote_string
from voip_core.sip.message import Request, Response, make_response
from voip_core.sip.uri import parse_uri, uri_equal

__all__ = [
    "CHALLENGE_ALGORITHMS",
    "AuthResult",
    "AuthStatus",
    "DigestAlgorithm",
    "DigestChallenge",
    "DigestCredentials",
    "Ha1Lookup",
    "NonceManager",
    "NonceState",
    "authenticate",
    "build_authorization",
    "build_challenges",
    "compute_ha1",
    "compute_response",
    "make_challenge_response",
    "parse_authorization",
    "parse_challenge",
    "select_challenge",
    "serialize_authorization",
    "serialize_challenge",
    "verify_credentials",
]

DigestAlgorithm = Literal["MD5", "MD5-sess", "SHA-256", "SHA-256-sess"]

#: Algorithms offered in challenges, in order of preference (RFC 8760 §2.4).
CHALLENGE_ALGORITHMS: Final[tuple[DigestAlgorithm, ...]] = ("SHA-256", "MD5")

_ALGORITHMS: Final[dict[str, DigestAlgorithm]] = {
    "md5": "MD5",
    "md5-sess": "MD5-sess",
    "sha-256": "SHA-256",
    "sha-256-sess": "SHA-256-sess",
}
_HEX_LENGTH: Final = {"MD5": 32, "SHA-256": 64}

#: Seconds a nonce stays fresh. Phones answer a challenge within a second; longer
#: lifetimes only let them reuse a nonce for later refreshes, which ``stale`` handles.
DEFAULT_NONCE_LIFETIME: Final = 300.0
#: Nonces whose ``nc`` is remembered at once. One entry costs about 200 bytes, so the
#: default bounds the table near 13 MB; 65,536 in-flight nonces is far above what
#: 100,000 phones refreshing hourly keep alive within a 300 s lifetime.
DEFAULT_MAX_TRACKED_NONCES: Final = 65_536
#: Shortest secret accepted: 128 bits, the HMAC-SHA256 security level we rely on.
MIN_SECRET_BYTES: Final = 16

_NONCE_RANDOM_BYTES: Final = 8
_NONCE_MAC_BYTES: Final = 16
_NONCE_BYTES: Final = 8 + _NONCE_RANDOM_BYTES + _NONCE_MAC_BYTES
_OPAQUE_BYTES: Final = 12
#: Nonce timestamps this far in the future are accepted (clock skew between workers).
_CLOCK_SKEW_MS: Final = 30_000

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
_MAX_SHOWN: Final = 80


def _shown(text: str) -> str:
    """``repr`` of ``text`` cut to a length fit for an error message."""
    if len(text) > _MAX_SHOWN:
        return repr(text[:_MAX_SHOWN] + "...")
    return repr(text)


def _hash(algorithm: DigestAlgorithm, data: str) -> str:
    base = "SHA-256" if algorithm.startswith("SHA-256") else "MD5"
    raw = data.encode("utf-8", "surrogateescape")
    if base == "SHA-256":
        return hashlib.sha256(raw).hexdigest()
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def _base_algorithm(algorithm: DigestAlgorithm) -> Literal["MD5", "SHA-256"]:
    return "SHA-256" if algorithm.startswith("SHA-256") else "MD5"


# -- values ---------------------------------------------------------------------------


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


class AuthStatus(Enum):
    """Outcome of checking a request's credentials."""

    OK = "ok"
    MISSING = "missing"
    """No credentials for our realm: challenge."""
    STALE = "stale"
    """Correct digest with an expired or replayed nonce: challenge with ``stale=true``."""
    FAILED = "failed"
    """Anything else (wrong password, unknown user, malformed): challenge afresh."""


@dataclass(frozen=True, slots=True)
class AuthResult:
    """What :func:`verify_credentials` / :func:`authenticate` decided, and why."""

    status: AuthStatus
    reason: str
    """For logs only; never sent, so that a failure reveals nothing."""
    username: str | None = None
    """The authenticated user when ``status`` is OK, else the claimed one (if any)."""

    @property
    def ok(self) -> bool:
        """Whether the credentials were accepted."""
        return self.status is AuthStatus.OK


class NonceState(Enum):
    """Validity of a nonce presented by a client."""

    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"
    """Not issued with our secret (or malformed)."""


# -- nonces ---------------------------------------------------------------------------


class NonceManager:
    """Issues and checks stateless nonces, and remembers nonce-counts to stop replays.

    ``secret`` must be shared by every process that should accept each other's nonces.
    ``issuer`` (0-255) is written into every nonce; worker processes of one node each
    use their index, and each accepts only its own nonces, since only the issuer tracks
    their nonce-counts. ``random_bytes`` is injectable so tests can be deterministic.
    Like the other engines of the SIP core, an instance belongs to one thread (the event
    loop's).
    """

    def __init__(
        self,
        secret: bytes,
        *,
        lifetime: float = DEFAULT_NONCE_LIFETIME,
        max_tracked: int = DEFAULT_MAX_TRACKED_NONCES,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        issuer: int = 0,
    ) -> None:
        if not 0 <= issuer <= 255:
            raise ValueError(f"nonce issuer {issuer} outside 0..255")
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"nonce secret of {len(secret)} bytes below minimum {MIN_SECRET_BYTES}"
            )
        if lifetime <= 0:
            raise ValueError(f"nonce lifetime {lifetime} must be positive")
        if max_tracked < 1:
            raise ValueError(f"max_tracked {max_tracked} must be at least 1")
        self._nonce_key = hmac.new(secret, b"ronghe digest nonce", hashlib.sha256).digest()
        self._opaque_key = hmac.new(secret, b"ronghe digest opaque", hashlib.sha256).digest()
        self._lifetime_ms = int(lifetime * 1000)
        self._max_tracked = max_tracked
        self._random_bytes = random_bytes
        self._issuer = issuer
        # nonce -> (last nc, issue timestamp in ms), oldest first use first.
        self._last_nc: OrderedDict[str, tuple[int, int]] = OrderedDict()
        # Nonces issued at or before this timestamp are stale: one of them was evicted.
        self._evicted_up_to_ms = -1

    @property
    def lifetime(self) -> float:
        """Seconds a nonce stays fresh."""
        return self._lifetime_ms / 1000

    def __len__(self) -> int:
        """Number of nonces whose nonce-count is currently remembered."""
        return len(self._last_nc)

    def issue(self, now: float) -> str:
        """A new nonce stamped with ``now``."""
        stamp = int(now * 1000).to_bytes(8, "big", signed=True)
        random_part = self._random_bytes(_NONCE_RANDOM_BYTES)
        if len(random_part) != _NONCE_RANDOM_BYTES:
            raise LocalProtocolError(
                f"random_bytes returned {len(random_part)} bytes, not {_NONCE_RANDOM_BYTES}"
            )
        # The first random byte names the issuing worker process (see ``issuer``).
        body = stamp + bytes((self._issuer,)) + random_part[1:]
        mac = hmac.new(self._nonce_key, body, hashlib.sha256).digest()
        raw = body + mac[:_NONCE_MAC_BYTES]
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def opaque(self, nonce: str) -> str:
        """The opaque value that accompanies ``nonce`` (RFC 7616 §3.3), derived, not stored."""
        mac = hmac.new(self._opaque_key, nonce.encode("utf-8", "surrogateescape"), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:_OPAQUE_BYTES]).decode("ascii")

    def _decode(self, nonce: str) -> int | None:
        """The nonce's timestamp in ms when this issuer issued it, else ``None``."""
        if len(nonce) != 43 or not nonce.isascii():
            return None
        try:
            raw = base64.urlsafe_b64decode(nonce + "=")
        except (binascii.Error, ValueError):
            return None
        if len(raw) != _NONCE_BYTES:
            return None
        body, mac = raw[:-_NONCE_MAC_BYTES], raw[-_NONCE_MAC_BYTES:]
        expected = hmac.new(self._nonce_key, body, hashlib.sha256).digest()[:_NONCE_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            return None
        return int.from_bytes(body[:8], "big", signed=True)

    def _issued_elsewhere(self, nonce: str) -> bool:
        """Whether ``nonce`` (already decoded) came from another worker process."""
        raw = base64.urlsafe_b64decode(nonce + "=")
        return raw[8] != self._issuer

    def check(self, nonce: str, now: float) -> NonceState:
        """Whether ``nonce`` is ours and still fresh at ``now``."""
        issued_ms = self._decode(nonce)
        if issued_ms is None:
            return NonceState.INVALID
        now_ms = int(now * 1000)
        if issued_ms > now_ms + _CLOCK_SKEW_MS:
            return NonceState.INVALID
        if now_ms - issued_ms >= self._lifetime_ms or issued_ms <= self._evicted_up_to_ms:
            return NonceState.EXPIRED
        if self._issued_elsewhere(nonce):
            # Its nonce-counts are tracked by the worker that issued it: answering stale
            # makes the client retry with one of ours without asking its user (RFC 7616
            # §3.3), and a replay cannot pass once in every worker.
            return NonceState.EXPIRED
        return NonceState.VALID

    def use(self, nonce: str, nonce_count: int, now: float) -> bool:
        """Record one use of a valid nonce; ``False`` when ``nonce_count`` does not increase.

        Call only after :meth:`check` returned VALID for ``nonce``.
        """
        self._evict_expired(now)
        issued_ms = self._decode(nonce)
        if issued_ms is None:
            return False
        entry = self._last_nc.get(nonce)
        if entry is not None:
            if nonce_count <= entry[0]:
                return False
            self._last_nc[nonce] = (nonce_count, issued_ms)
            return True
        if issued_ms <= self._evicted_up_to_ms:
            return False
        if nonce_count < 1:
            return False
        while len(self._last_nc) >= self._max_tracked:
            _, (_, evicted_ms) = self._last_nc.popitem(last=False)
            self._evicted_up_to_ms = max(self._evicted_up_to_ms, evicted_ms)
        if issued_ms <= self._evicted_up_to_ms:
            return False
        self._last_nc[nonce] = (nonce_count, issued_ms)
        return True

    def _evict_expired(self, now: float) -> None:
        limit_ms = int(now * 1000) - self._lifetime_ms
        while self._last_nc:
            nonce, (_, issued_ms) = next(iter(self._last_nc.items()))
            if issued_ms > limit_ms:
                break
            del self._last_nc[nonce]


# -- header codecs --------------------------------------------------------------------


def _parse_auth_header(value: str, what: str) -> dict[str, tuple[str, bool]]:
    """Split ``Digest name=value, ...`` into lower-case names -> (value, was_quoted)."""
    match = _SCHEME_RE.fullmatch(value)
    if match is None:
        raise ParseError(f"malformed {what} {_shown(value)}")
    if match.group(1).lower() != "digest":
        raise ParseError(f"unsupported {what} scheme {_shown(match.group(1))}")
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
            raise ParseError(f"parameter name expected at {_shown(text[i:])} in {what}")
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
        raise ParseError(f"malformed nc {_shown(nc)} in {what}: 8 hex digits expected")
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
    algorithm = _ALGORITHMS.get(algorithm_text.lower())
    if algorithm is None:
        raise ParseError(f"unsupported digest algorithm {_shown(algorithm_text)} in {what}")
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


# -- computation ----------------------------------------------------------------------


def compute_ha1(algorithm: DigestAlgorithm, username: str, realm: str, password: str) -> str:
    """HA1 = H(username ":" realm ":" password), hex (RFC 7616 §3.4.2), without ``-sess``."""
    return _hash(_base_algorithm(algorithm), f"{username}:{realm}:{password}")


def compute_response(
    algorithm: DigestAlgorithm,
    *,
    ha1: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The ``response`` value (RFC 7616 §3.4.1) from the stored, non-session HA1.

    For the ``-sess`` variants HA1 is first turned into H(HA1 ":" nonce ":" cnonce)
    (§3.4.2). Only ``qop=auth`` and the RFC 2069 form without qop are supported.
    """
    if algorithm.endswith("-sess"):
        if cnonce is None:
            raise LocalProtocolError(f"{algorithm} needs a cnonce")
        ha1 = _hash(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop is None:
        return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
    if qop != "auth":
        raise LocalProtocolError(f"qop {qop!r} not supported; only 'auth'")
    if nc is None or cnonce is None:
        raise LocalProtocolError("qop=auth needs nc and cnonce")
    return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


# -- server side ----------------------------------------------------------------------


def build_challenges(
    *,
    realm: str,
    nonces: NonceManager,
    now: float,
    stale: bool = False,
    algorithms: Sequence[DigestAlgorithm] = CHALLENGE_ALGORITHMS,
) -> list[DigestChallenge]:
    """One fresh challenge per offered algorithm, in the order given (SHA-256 first by
    default), sharing a nonce."""
    nonce = nonces.issue(now)
    opaque = nonces.opaque(nonce)
    return [
        DigestChallenge(
            realm=realm, nonce=nonce, algorithm=algorithm, opaque=opaque, qop=("auth",), stale=stale
        )
        for algorithm in algorithms
    ]


def make_challenge_response(
    request: Request,
    *,
    realm: str,
    nonces: NonceManager,
    now: float,
    stale: bool = False,
    proxy: bool = False,
    to_tag: str | None = None,
) -> Response:
    """401 with ``WWW-Authenticate`` (registrar, UAS) or 407 with ``Proxy-Authenticate``.

    The shape never depends on why authentication failed, only on ``stale``.
    """
    header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
    challenges = build_challenges(realm=realm, nonces=nonces, now=now, stale=stale)
    return make_response(
        request,
        407 if proxy else 401,
        to_tag=to_tag,
        headers=[(header, serialize_challenge(challenge)) for challenge in challenges],
    )


# A stand-in HA1 for unknown users, so that they cost the same hashing as known ones.
_DUMMY_HA1: Final = {
    "MD5": secrets.token_hex(16),
    "SHA-256": secrets.token_hex(32),
}


def verify_credentials(
    credentials: DigestCredentials,
    *,
    method: str,
    realm: str,
    ha1: str | None,
    nonces: NonceManager,
    now: float,
    request_uri: str | None = None,
) -> AuthResult:
    """Check a digest answer against the stored hex HA1 (``None`` for an unknown user).

    ``ha1`` must be for ``credentials.algorithm`` without ``-sess``. ``request_uri``, when
    given, must equal the ``uri`` parameter (RFC 7616 §3.4.6, compared per RFC 3261
    §19.1.4). On success the nonce-count is recorded, so the same answer is refused next
    time.
    """
    username = credentials.username

    def failed(reason: str) -> AuthResult:
        return AuthResult(AuthStatus.FAILED, reason, username)

    if credentials.realm != realm:
        return failed(f"realm {_shown(credentials.realm)} is not {realm!r}")
    algorithm = _ALGORITHMS.get(credentials.algorithm.lower())
    if algorithm is None:
        return failed(f"unsupported algorithm {_shown(credentials.algorithm)}")
    if credentials.qop != "auth":
        shown = "missing" if credentials.qop is None else _shown(credentials.qop)
        return failed(f"qop {shown}; 'auth' required")
    if credentials.nc is None or credentials.cnonce is None:
        return failed("nc and cnonce required with qop=auth")
    if request_uri is not None and not _same_uri(credentials.uri, request_uri):
        return failed(
            f"uri {_shown(credentials.uri)} does not match Request-URI {_shown(request_uri)}"
        )
    expected_opaque = nonces.opaque(credentials.nonce)
    if credentials.opaque is None or not hmac.compare_digest(
        credentials.opaque.encode("utf-8", "surrogateescape"), expected_opaque.encode("ascii")
    ):
        return failed("opaque missing or not the one issued with the nonce")
    base = _base_algorithm(algorithm)
    known = ha1 is not None and len(ha1) == _HEX_LENGTH[base]
    expected = compute_response(
        algorithm,
        ha1=(ha1 if known and ha1 is not None else _DUMMY_HA1[base]).lower(),
        nonce=credentials.nonce,
        method=method,
        uri=credentials.uri,
        qop="auth",
        nc=credentials.nc,
        cnonce=credentials.cnonce,
    )
    matches = hmac.compare_digest(
        expected.encode("ascii"), credentials.response.lower().encode("utf-8", "surrogateescape")
    )
    if not known:
        return failed(
            f"unknown user {_shown(username)}"
            if ha1 is None
            else f"stored HA1 for {algorithm} has the wrong length"
        )
    if not matches:
        return failed(f"wrong response for user {_shown(username)}")
    state = nonces.check(credentials.nonce, now)
    if state is NonceState.INVALID:
        return failed("nonce was not issued by us")
    if state is NonceState.EXPIRED:
        return AuthResult(AuthStatus.STALE, "nonce expired", username)
    count = credentials.nonce_count
    assert count is not None
    if not nonces.use(credentials.nonce, count, now):
        return AuthResult(
            AuthStatus.STALE, f"nc {credentials.nc} replayed or not increasing", username
        )
    return AuthResult(AuthStatus.OK, "authenticated", username)


def _same_uri(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return uri_equal(parse_uri(a), parse_uri(b))
    except ParseError:
        return False


#: Returns the stored hex HA1 of ``username`` for ``algorithm`` ("MD5" or "SHA-256"),
#: or ``None`` when the user is unknown (or has no HA1 for that algorithm).
Ha1Lookup = Callable[[str, Literal["MD5", "SHA-256"]], str | None]


def authenticate(
    request: Request,
    *,
    realm: str,
    nonces: NonceManager,
    now: float,
    lookup_ha1: Ha1Lookup,
    proxy: bool = False,
) -> AuthResult:
    """Check the request's credentials for ``realm`` (RFC 3261 §22.3 / §22.4).

    Reads ``Proxy-Authorization`` when ``proxy`` is set, else ``Authorization``; among
    several, the one for our realm counts. A malformed header counts as FAILED (the
    client is challenged afresh) rather than answered with 400, so that a broken client
    and a probing one see the same thing.
    """
    header = "Proxy-Authorization" if proxy else "Authorization"
    candidates: list[DigestCredentials] = []
    for value in request.header_lines(header):
        try:
            credentials = parse_authorization(value)
        except ParseError as error:
            return AuthResult(AuthStatus.FAILED, f"malformed {header}: {error}")
        if credentials.realm == realm:
            candidates.append(credentials)
    if not candidates:
        return AuthResult(AuthStatus.MISSING, f"no {header} for realm {realm!r}")
    credentials = candidates[0]
    algorithm = _ALGORITHMS.get(credentials.algorithm.lower())
    ha1 = (
        None if algorithm is None else lookup_ha1(credentials.username, _base_algorithm(algorithm))
    )
    return verify_credentials(
        credentials,
        method=request.method,
        realm=realm,
        ha1=ha1,
        nonces=nonces,
        now=now,
        request_uri=str(request.uri),
    )


# -- client side ----------------------------------------------------------------------


def select_challenge(values: Sequence[str]) -> DigestChallenge:
    """The strongest challenge we can answer among header values (SHA-256 over MD5).

    Values we cannot parse or whose algorithm we do not know are skipped (RFC 8760
    §2.4: a client ignores challenges it does not understand).
    """
    best: DigestChallenge | None = None
    for value in values:
        try:
            challenge = parse_challenge(value)
        except ParseError:
            continue
        if challenge.qop and "auth" not in challenge.qop:
            continue
        if best is None or (
            _base_algorithm(challenge.algorithm) == "SHA-256"
            and _base_algorithm(best.algorithm) == "MD5"
        ):
            best = challenge
    if best is None:
        raise ParseError(f"no usable digest challenge among {len(values)} header values")
    return best


def build_authorization(
    challenge: DigestChallenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str | None = None,
    ha1: str | None = None,
    cnonce: str,
    nc: int = 1,
) -> str:
    """The ``Authorization`` / ``Proxy-Authorization`` value answering ``challenge``.

    Give either ``password`` or the stored non-session ``ha1`` for the challenge's
    algorithm. Uses ``qop=auth`` when offered, the RFC 2069 form when no qop is offered.
    """
    if (password is None) == (ha1 is None):
        raise LocalProtocolError("give exactly one of password and ha1")
    if challenge.qop and "auth" not in challenge.qop:
        raise LocalProtocolError(f"challenge offers qop {','.join(challenge.qop)!r}, not 'auth'")
    if not 1 <= nc <= 0xFFFFFFFF:
        raise LocalProtocolError(f"nc {nc} outside 1..2**32-1")
    if ha1 is None:
        assert password is not None
        ha1 = compute_ha1(challenge.algorithm, username, challenge.realm, password)
    qop = "auth" if challenge.qop else None
    nc_text = f"{nc:08x}" if qop else None
    response = compute_response(
        challenge.algorithm,
        ha1=ha1,
        nonce=challenge.nonce,
        method=method,
        uri=uri,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce if qop or challenge.algorithm.endswith("-sess") else None,
    )
    credentials = DigestCredentials(
        username=username,
        realm=challenge.realm,
        nonce=challenge.nonce,
        uri=uri,
        response=response,
        algorithm=challenge.algorithm,
        cnonce=cnonce if qop or challenge.algorithm.endswith("-sess") else None,
        opaque=challenge.opaque,
        qop=qop,
        nc=nc_text,
    )
    return serialize_authorization(credentials)

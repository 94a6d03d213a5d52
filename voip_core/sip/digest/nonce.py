"""Digest nonces: issued and checked without shared state, counted against replays.

Theory of operation
-------------------
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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum
from typing import Final

from voip_core.sip.exceptions import LocalProtocolError

__all__ = [
    "DEFAULT_MAX_TRACKED_NONCES",
    "DEFAULT_NONCE_LIFETIME",
    "MIN_SECRET_BYTES",
    "NonceManager",
    "NonceState",
]

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
_SHA256_BLOCK: Final = 64
_INNER_PAD: Final = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD: Final = bytes(byte ^ 0x5C for byte in range(256))


class _KeyedSha256:
    """HMAC-SHA256 (RFC 2104) under a key derived from ``secret`` for ``label``, the key's
    padded blocks hashed once.

    ``hmac.digest`` sets up OpenSSL's HMAC afresh on every call, which costs more than
    the hashing itself; a registration makes four of them (nonce, its check, two opaque
    values).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes, label: bytes) -> None:
        key = hmac.new(secret, label, hashlib.sha256).digest()  # 32 bytes: within a block
        block = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(_INNER_PAD))
        self._outer = hashlib.sha256(block.translate(_OUTER_PAD))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class NonceState(Enum):
    """Validity of a nonce presented by a client."""

    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"
    """Not issued with our secret (or malformed)."""


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
        self._nonce_mac = _KeyedSha256(secret, b"ronghe digest nonce")
        self._opaque_mac = _KeyedSha256(secret, b"ronghe digest opaque")
        self._lifetime_ms = int(lifetime * 1000)
        self._max_tracked = max_tracked
        self._random_bytes = random_bytes
        self._issuer = issuer
        # nonce -> (last nc, issue timestamp in ms), oldest first use first.
        self._last_nc: OrderedDict[str, tuple[int, int]] = OrderedDict()
        # Nonces issued at or before this timestamp are stale: one of them was evicted.
        self._evicted_up_to_ms = -1
        # The last nonce decoded and what it decoded to: a REGISTER's nonce is checked,
        # then used (and, under overload, first asked its age), each a decode and an HMAC.
        self._last_decoded: tuple[str, tuple[int, int] | None] = ("", None)

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
        mac = self._nonce_mac.digest(body)
        return _encode(body + mac[:_NONCE_MAC_BYTES])

    def opaque(self, nonce: str) -> str:
        """The opaque value that accompanies ``nonce`` (RFC 7616 §3.3), derived, not stored."""
        mac = self._opaque_mac.digest(nonce.encode("utf-8", "surrogateescape"))
        return base64.urlsafe_b64encode(mac[:_OPAQUE_BYTES]).decode("ascii")

    def _decode(self, nonce: str) -> tuple[int, int] | None:
        """The timestamp in ms and the issuer of a nonce of this node, else ``None``."""
        last_nonce, last_result = self._last_decoded
        if nonce == last_nonce:
            return last_result
        result = self._decode_uncached(nonce)
        self._last_decoded = (nonce, result)
        return result

    def _decode_uncached(self, nonce: str) -> tuple[int, int] | None:
        if len(nonce) != 43 or not nonce.isascii():
            return None
        try:
            raw = base64.urlsafe_b64decode(nonce + "=")
        except (binascii.Error, ValueError):
            return None
        if len(raw) != _NONCE_BYTES or _encode(raw) != nonce:
            # The last of the 43 characters carries 2 padding bits that decoding ignores:
            # only the canonical spelling, the one we issued, is a nonce of ours.
            return None
        body, mac = raw[:-_NONCE_MAC_BYTES], raw[-_NONCE_MAC_BYTES:]
        expected = self._nonce_mac.digest(body)[:_NONCE_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            return None
        return int.from_bytes(body[:8], "big", signed=True), body[8]

    def issued_within(self, nonce: str, seconds: float, now: float) -> bool:
        """Whether ``nonce`` is one of this node's (any worker's) and was issued less than
        ``seconds`` before ``now``: the answer to a challenge sent moments ago."""
        decoded = self._decode(nonce)
        if decoded is None:
            return False
        age_ms = int(now * 1000) - decoded[0]
        return -_CLOCK_SKEW_MS <= age_ms < seconds * 1000

    def check(self, nonce: str, now: float) -> NonceState:
        """Whether ``nonce`` is ours and still fresh at ``now``."""
        decoded = self._decode(nonce)
        if decoded is None:
            return NonceState.INVALID
        issued_ms, issuer = decoded
        now_ms = int(now * 1000)
        if issued_ms > now_ms + _CLOCK_SKEW_MS:
            return NonceState.INVALID
        if now_ms - issued_ms >= self._lifetime_ms or issued_ms <= self._evicted_up_to_ms:
            return NonceState.EXPIRED
        if issuer != self._issuer:
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
        decoded = self._decode(nonce)
        if decoded is None:
            return False
        issued_ms = decoded[0]
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

"""Signed tokens carried in URI user parts: Record-Route flow tokens and node hops.

A token is ``prefix`` followed by the lower-case, unpadded base32 of an HMAC-SHA256 tag
(its first ``tag_bytes``) and the payload: URI-safe (RFC 3261 §25.1 ``unreserved``) and
verifiable only with the deployment secret, so nobody can make us send to a flow we
never saw. Decoded results are kept in bounded dictionaries, emptied when full (like the
parser's caches in ``voip_core/sip/_memo.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final, TypeVar

from voip_core.sip.peer import Peer

__all__ = ["MAX_CACHED", "flow_fields", "open_token", "parse_flow", "remember", "sign_token"]

#: Entries a token cache holds before it is emptied: a county's phones and trunks, with room.
MAX_CACHED: Final = 65_536
_K = TypeVar("_K")
_V = TypeVar("_V")


def sign_token(secret: bytes, prefix: str, payload: bytes, tag_bytes: int) -> str:
    """``payload`` as a token of ``prefix``, signed under ``secret``."""
    tag = hmac.new(secret, payload, hashlib.sha256).digest()[:tag_bytes]
    return prefix + base64.b32encode(tag + payload).decode().rstrip("=").lower()


def open_token(secret: bytes, prefix: str, token: str, tag_bytes: int) -> bytes | None:
    """The payload of a token :func:`sign_token` made, ``None`` if ``token`` is none."""
    if not token.startswith(prefix):
        return None
    text = token[len(prefix) :].upper()
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError:
        return None
    tag, payload = raw[:tag_bytes], raw[tag_bytes:]
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:tag_bytes]
    return payload if hmac.compare_digest(tag, expected) else None


def remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
    """Keep ``value`` for ``key``, emptying ``cache`` first when it is full."""
    if len(cache) >= MAX_CACHED:
        cache.clear()
    cache[key] = value


def flow_fields(flow: Peer) -> str:
    """A flow as the ``transport|host|port|connection`` fields of a token's payload."""
    connection = "" if flow.connection_id is None else str(flow.connection_id)
    return f"{flow.transport}|{flow.host}|{flow.port}|{connection}"


def parse_flow(transport: str, host: str, port: str, connection: str) -> Peer:
    """The flow :func:`flow_fields` wrote; ``ValueError`` for a bad number."""
    return Peer(transport, host, int(port), int(connection) if connection else None)

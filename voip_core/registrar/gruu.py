"""Globally Routable User agent URIs (RFC 5627): construction and resolution.

Theory of operation
-------------------
A *public* GRUU is the address-of-record with ``gr=<instance-id>`` (§3.1): anyone who
knows the AOR and the instance can build it, and it resolves to the bindings of that
AOR with that instance.

A *temporary* GRUU (§3.2) must not reveal the AOR and must not be linkable to other
temporary GRUUs of the same instance. Ours are stateless, as §5.2 permits: the user
part is ``tgruu.`` followed by base32 of ``iv ‖ ciphertext ‖ tag``, where the plaintext
is (SHA-256(Call-ID)[:8], instance, AOR), encrypted with an HMAC-SHA256 counter-mode
keystream and authenticated with a separate HMAC key (encrypt-then-MAC). The IV is an
HMAC of the plaintext and the REGISTER's CSeq, so every REGISTER yields a new,
unrelated-looking GRUU while the process stays deterministic and pure.

Resolving decrypts the token and looks up the AOR's bindings with that instance; it
matches only while such a binding lives *with the same Call-ID*. So every temporary
GRUU handed out during one registration (one Call-ID, any number of refreshes) keeps
working until the binding expires or the UA restarts with a new Call-ID, which is the
lifetime §3.2 asks for, without storing a single issued GRUU.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Final

from voip_core.registrar.binding import Binding, aor_uri, canonical_aor
from voip_core.sip.exceptions import ParseError
from voip_core.sip.grammar import unescape_percent
from voip_core.sip.uri import SipUri, Uri, parse_uri, serialize_uri

__all__ = [
    "GRUU_PARAM",
    "TEMP_GRUU_PREFIX",
    "GruuLookup",
    "is_gruu",
    "normalize_instance_id",
    "public_gruu",
    "resolve_gruu",
    "temporary_gruu",
]

#: The URI parameter that marks a GRUU (RFC 5627 §3.1).
GRUU_PARAM: Final = "gr"
#: User-part prefix of our temporary GRUUs.
TEMP_GRUU_PREFIX: Final = "tgruu."

#: ``lookup(aor, instance_id)`` returns the AOR's bindings with that instance (a
#: :class:`~voip_core.registrar.store.BindingStore`'s ``by_gruu`` fits).
GruuLookup = Callable[[str, str], Sequence[Binding]]

_IV_BYTES: Final = 8
_TAG_BYTES: Final = 10
_CALL_ID_DIGEST_BYTES: Final = 8
_UUID_URN_RE: Final = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
# Characters a gr value may carry unescaped (RFC 3261 §25.1 paramchar).
_PARAM_SAFE_RE: Final = re.compile(r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$]")
_INSTANCE_UUID: Final = 1
_INSTANCE_TEXT: Final = 0


def normalize_instance_id(value: str) -> str:
    """``+sip.instance`` as stored: quotes and ``<>`` removed, ``urn:uuid`` lower-cased.

    UUID URNs compare case-insensitively (RFC 4122 §3), so lower-casing makes the
    exact comparison the stores use correct for them.
    """
    text = value.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    if text[:9].lower() == "urn:uuid:":
        text = text.lower()
    return text


def _escape_param(value: str) -> str:
    out: list[str] = []
    for char in value:
        if _PARAM_SAFE_RE.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"%{octet:02X}" for octet in char.encode("utf-8", "surrogateescape"))
    return "".join(out)


def public_gruu(aor: str, instance_id: str) -> str:
    """The public GRUU of ``instance_id`` under ``aor`` (RFC 5627 §3.1)."""
    return serialize_uri(aor_uri(aor).with_param(GRUU_PARAM, _escape_param(instance_id)))


def _keys(secret: bytes) -> tuple[bytes, bytes, bytes]:
    def derive(label: bytes) -> bytes:
        return hmac.new(secret, b"ronghe temp-gruu " + label, hashlib.sha256).digest()

    return derive(b"iv"), derive(b"encryption"), derive(b"authentication")


def _keystream(key: bytes, iv: bytes, length: int) -> bytes:
    blocks = [
        hmac.new(key, iv + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        for counter in range((length + 31) // 32)
    ]
    return b"".join(blocks)[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def _call_id_digest(call_id: str) -> bytes:
    return hashlib.sha256(call_id.encode("utf-8", "surrogateescape")).digest()[
        :_CALL_ID_DIGEST_BYTES
    ]


def _encode_instance(instance_id: str) -> bytes:
    if _UUID_URN_RE.fullmatch(instance_id):
        return bytes([_INSTANCE_UUID]) + uuid.UUID(instance_id[9:]).bytes
    raw = instance_id.encode("utf-8", "surrogateescape")
    if len(raw) > 255:
        raise ValueError(f"instance id of {len(raw)} bytes exceeds 255")
    return bytes([_INSTANCE_TEXT, len(raw)]) + raw


def temporary_gruu(aor: str, instance_id: str, *, call_id: str, cseq: int, secret: bytes) -> str:
    """A new temporary GRUU for the binding registered with ``call_id``/``cseq``."""
    iv_key, encryption_key, authentication_key = _keys(secret)
    plaintext = (
        _call_id_digest(call_id)
        + _encode_instance(instance_id)
        + aor.encode("utf-8", "surrogateescape")
    )
    iv = hmac.new(iv_key, plaintext + cseq.to_bytes(8, "big"), hashlib.sha256).digest()[:_IV_BYTES]
    ciphertext = _xor(plaintext, _keystream(encryption_key, iv, len(plaintext)))
    tag = hmac.new(authentication_key, iv + ciphertext, hashlib.sha256).digest()[:_TAG_BYTES]
    token = base64.b32encode(iv + ciphertext + tag).decode("ascii").rstrip("=").lower()
    host = aor.rpartition("@")[2] if "@" in aor else aor[4:]
    return f"sip:{TEMP_GRUU_PREFIX}{token}@{host};{GRUU_PARAM}"


def _decode_temporary(user: str, secret: bytes) -> tuple[str, str, bytes] | None:
    """(aor, instance_id, Call-ID digest) of a temporary GRUU user part, or ``None``."""
    token = user[len(TEMP_GRUU_PREFIX) :].upper()
    if not token.isascii():
        return None
    try:
        raw = base64.b32decode(token + "=" * (-len(token) % 8))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < _IV_BYTES + _CALL_ID_DIGEST_BYTES + 2 + _TAG_BYTES:
        return None
    iv, ciphertext, tag = raw[:_IV_BYTES], raw[_IV_BYTES:-_TAG_BYTES], raw[-_TAG_BYTES:]
    _, encryption_key, authentication_key = _keys(secret)
    expected = hmac.new(authentication_key, iv + ciphertext, hashlib.sha256).digest()[:_TAG_BYTES]
    if not hmac.compare_digest(tag, expected):
        return None
    plaintext = _xor(ciphertext, _keystream(encryption_key, iv, len(ciphertext)))
    digest, rest = plaintext[:_CALL_ID_DIGEST_BYTES], plaintext[_CALL_ID_DIGEST_BYTES:]
    # The tag authenticates the plaintext, so the layout below is ours and well-formed.
    if rest[0] == _INSTANCE_UUID:
        instance_id = f"urn:uuid:{uuid.UUID(bytes=rest[1:17])}"
        aor_bytes = rest[17:]
    else:
        length = rest[1]
        instance_id = rest[2 : 2 + length].decode("utf-8", "surrogateescape")
        aor_bytes = rest[2 + length :]
    return aor_bytes.decode("utf-8", "surrogateescape"), instance_id, digest


def is_gruu(uri: Uri) -> bool:
    """Whether ``uri`` carries the ``gr`` parameter (RFC 5627 §3.1)."""
    return isinstance(uri, SipUri) and uri.param(GRUU_PARAM) is not None


def resolve_gruu(
    uri: Uri | str,
    lookup: GruuLookup,
    *,
    gruu_secret: bytes | None,
    now: float,
) -> list[Binding]:
    """The live bindings a public or temporary GRUU reaches (RFC 5627 §4.2 / §5.3).

    Returns an empty list for a URI that is not a GRUU, a temporary GRUU we did not
    issue (or issued under another secret), and a GRUU whose bindings are gone; the
    proxy answers those with 480 or 404 as for an unknown AOR.
    """
    try:
        parsed = parse_uri(uri) if isinstance(uri, str) else uri
    except ParseError:
        return []
    if not isinstance(parsed, SipUri):
        return []
    gr_value = parsed.param(GRUU_PARAM)
    if gr_value is None:
        return []
    if gr_value:
        aor = canonical_aor(parsed)
        instance_id = normalize_instance_id(unescape_percent(gr_value))
        return [
            binding
            for binding in lookup(aor, instance_id)
            if binding.instance_id == instance_id and binding.expires_at > now
        ]
    user = parsed.user_unescaped
    if gruu_secret is None or user is None or not user.startswith(TEMP_GRUU_PREFIX):
        return []
    decoded = _decode_temporary(user, gruu_secret)
    if decoded is None:
        return []
    aor, instance_id, call_id_digest = decoded
    return [
        binding
        for binding in lookup(aor, instance_id)
        if binding.instance_id == instance_id
        and binding.expires_at > now
        and hmac.compare_digest(_call_id_digest(binding.call_id), call_id_digest)
    ]

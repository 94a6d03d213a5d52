"""SIP digest credentials: HA1 derivation and password generation.

The numbering plan never stores a password. It stores HA1, the hash the digest
algorithm derives from ``username:realm:password`` (RFC 7616 §3.4.2), once per
algorithm a phone may choose: MD5 for old handsets and SHA-256 (RFC 8760) for new
ones. The registrar can then verify a response without the password.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from typing import Final, Literal

__all__ = [
    "GENERATED_PASSWORD_LENGTH",
    "DigestAlgorithm",
    "derive_ha1",
    "generate_password",
]

DigestAlgorithm = Literal["MD5", "SHA-256"]

#: Length of generated SIP passwords. 16 characters from a 57-symbol alphabet carry
#: about 93 bits, well above what an online digest-guessing attack can search.
GENERATED_PASSWORD_LENGTH: Final = 16

# Letters and digits without the look-alikes 0/O, 1/l/I, so a password read aloud or
# typed from a printout into a desk phone's keypad menu survives.
_PASSWORD_ALPHABET: Final = "".join(
    c for c in string.ascii_letters + string.digits if c not in "0O1lI"
)

_HASHES: Final = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def derive_ha1(algorithm: DigestAlgorithm, username: str, realm: str, password: str) -> str:
    """Return hex HA1 = H(username ":" realm ":" password) per RFC 7616 §3.4.2.

    The three parts are joined with colons and encoded as UTF-8 before hashing.
    """
    try:
        hash_function = _HASHES[algorithm]
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}") from None
    data = f"{username}:{realm}:{password}".encode()
    return hash_function(data, usedforsecurity=False).hexdigest()


def generate_password(length: int = GENERATED_PASSWORD_LENGTH) -> str:
    """Return a random password drawn with :mod:`secrets` from an unambiguous alphabet."""
    if length < 8:
        raise ValueError(f"password length {length} below minimum 8")
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))

"""HA1 derivation (RFC 7616 §3.4.2) and generated passwords."""

from __future__ import annotations

import hashlib

import pytest

from dialplan.credentials import GENERATED_PASSWORD_LENGTH, derive_ha1, generate_password


def test_md5_ha1_matches_rfc_2617_example() -> None:
    # RFC 2617 §3.5: Mufasa / testrealm@host.com / "Circle Of Life".
    assert (
        derive_ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
        == "939e7578ed9e3c518a452acee763bce9"
    )


def test_sha256_ha1_hashes_username_realm_password() -> None:
    expected = hashlib.sha256("8001:县政府.example:密码口令".encode()).hexdigest()
    assert derive_ha1("SHA-256", "8001", "县政府.example", "密码口令") == expected


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported digest algorithm 'SHA-512'"):
        derive_ha1("SHA-512", "8001", "realm", "secret")  # type: ignore[arg-type]  # the point of the test


def test_generated_passwords_are_long_random_and_unambiguous() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == GENERATED_PASSWORD_LENGTH
        assert not set(password) & set("0O1lI")


def test_short_generated_passwords_are_refused() -> None:
    with pytest.raises(ValueError, match="password length 6 below minimum 8"):
        generate_password(6)

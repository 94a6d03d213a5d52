"""Settings of ``ronghe serve`` from the command line.

Covers: Timer C (181 s by default, lower only outside production) and the digest
challenge order (MD5 first by default, repeatable ``--digest-algorithm`` in order of
preference, duplicates refused). Not covered: the environment (pydantic-settings
reads it) and the other options, which the integration tests start the server with.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ronghe.cli import build_parser, serve_settings
from ronghe.settings import ServeSettings


def settings_from(*argv: str) -> ServeSettings:
    return serve_settings(build_parser().parse_args(["serve", *argv]))


def test_challenges_offer_md5_first_by_default() -> None:
    assert settings_from().digest_algorithms == ("MD5", "SHA-256")


def test_digest_algorithms_keep_the_order_given() -> None:
    given = settings_from("--digest-algorithm", "SHA-256", "--digest-algorithm", "MD5")
    assert given.digest_algorithms == ("SHA-256", "MD5")
    assert settings_from("--digest-algorithm", "MD5").digest_algorithms == ("MD5",)


def test_a_digest_algorithm_listed_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"digest algorithms \['MD5', 'MD5'\]"):
        settings_from("--digest-algorithm", "MD5", "--digest-algorithm", "MD5")


def test_timer_c_defaults_above_three_minutes_and_may_be_lowered_for_tests() -> None:
    assert settings_from().timer_c == 181.0
    assert settings_from("--timer-c", "2").timer_c == 2.0


def test_production_refuses_a_timer_c_of_three_minutes_or_less(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RONGHE_ENVIRONMENT", "production")
    monkeypatch.setenv("RONGHE_SECRET", "a-real-deployment-secret")
    with pytest.raises(ValidationError, match=r"Timer C 180\.0 must exceed 180 s in production"):
        settings_from("--timer-c", "180")

"""Settings of ``ronghe serve`` from the command line.

Covers: Timer C (181 s by default, lower only outside production) and the digest
challenge order (MD5 alone by default, repeatable ``--digest-algorithm`` in order of
preference, duplicates refused); the UDP receive buffer asked for and the warning when
the kernel's is too small for the 503 threshold (real sockets, Linux accounting). Not
covered: the environment (pydantic-settings reads it) and the other options, which the
integration tests start the server with.
"""

from __future__ import annotations

import logging
import socket

import pytest
from pydantic import ValidationError

from ronghe.cli import build_parser, serve_settings
from ronghe.settings import ServeSettings
from ronghe.stack import bind_listeners
from voip_core.transport.manager import udp_receive_buffer


def settings_from(*argv: str) -> ServeSettings:
    return serve_settings(build_parser().parse_args(["serve", *argv]))


def test_challenges_offer_md5_alone_by_default() -> None:
    # baresip 1.0 refuses any challenge list that holds SHA-256 (issue #9).
    assert settings_from().digest_algorithms == ("MD5",)


def test_guard_limits_default_and_are_given_on_the_command_line() -> None:
    defaults = settings_from()
    assert (defaults.auth_failure_limit, defaults.auth_failure_window) == (5, 60.0)
    assert (defaults.auth_block_seconds, defaults.auth_max_block_seconds) == (300.0, 86400.0)
    assert (defaults.rate_limit, defaults.rate_window, defaults.rate_block_seconds) == (
        100,
        2.0,
        60.0,
    )
    given = settings_from("--auth-failure-limit", "3", "--rate-limit", "0")
    assert (given.auth_failure_limit, given.rate_limit) == (3, 0)


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


def free_port() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def rmem_max() -> int:
    with open("/proc/sys/net/core/rmem_max") as file:
        return int(file.read())


def test_udp_listener_gets_the_receive_buffer_asked_for() -> None:
    # Linux reports (and counts against) twice the size asked for, capped by rmem_max.
    for argv, kib in (((), 1024), (("--udp-receive-buffer-kib", "128"), 128)):
        settings = settings_from("--sip-host", "127.0.0.1", "--sip-port", free_port(), *argv)
        assert settings.udp_receive_buffer_kib == kib
        listeners = bind_listeners(settings)
        try:
            held = udp_receive_buffer(listeners.udp[0])
            assert held == 2 * min(kib * 1024, rmem_max())
        finally:
            listeners.close()


def test_too_small_a_receive_buffer_for_the_503_threshold_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fits = settings_from(
        "--sip-host", "127.0.0.1", "--sip-port", free_port(), "--overload-queue-kib", "200"
    )
    assert settings_from().overload_queue_kib == 768  # below the 2 MiB Linux counts
    too_small = settings_from(
        "--sip-host", "127.0.0.1", "--sip-port", free_port(), "--udp-receive-buffer-kib", "128"
    )
    with caplog.at_level(logging.WARNING, logger="ronghe"):
        bind_listeners(fits).close()
        assert "UDP receive buffer" not in caplog.text
        bind_listeners(too_small).close()
    assert "the UDP receive buffer holds 256 KiB" in caplog.text
    assert "--overload-queue-kib 768" in caplog.text


def test_a_receive_buffer_below_64_kib_is_refused() -> None:
    with pytest.raises(ValidationError, match="udp_receive_buffer_kib"):
        settings_from("--udp-receive-buffer-kib", "63")

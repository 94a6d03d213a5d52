"""TimerConfig: RFC 3261 Table 4 and RFC 6026 Timers L and M.

Covered:
- Table 4 defaults: T1 500 ms, T2 4 s, T4 5 s; A, E, G = T1; B, F, H, J = 64*T1;
  D = 32 s; I, K = T4 on UDP.
- Table 4 reliable column: A, E, G not started; D, I, J, K zero; B, F, H unchanged.
- RFC 6026 §8.4/§8.7: L and M = 64*T1.
- Timer C is > 3 minutes (§16.6 step 11).
- Validation of nonsensical values, with the exact messages.

Left out: adaptive T1 from RTT measurement (§17.1.1.1 allows it; we use configuration).
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from voip_core.transaction import TimerConfig


def test_defaults_follow_table_4() -> None:
    config = TimerConfig()
    assert (config.t1, config.t2, config.t4) == (0.5, 4.0, 5.0)
    assert config.timer_a == config.timer_e == config.timer_g == 0.5
    assert config.timer_b == config.timer_f == config.timer_h == config.timer_j == 32.0
    assert config.timer_d == 32.0
    assert config.timer_i == config.timer_k == 5.0
    assert config.timer_l == config.timer_m == 32.0
    assert config.timer_c > 180.0


def test_timers_scale_with_t1() -> None:
    config = TimerConfig(t1=1.0, t2=8.0, t4=10.0)
    assert config.timer_b == config.timer_f == config.timer_h == config.timer_j == 64.0
    assert config.timer_i == config.timer_k == 10.0
    # Timer D must still cover the server's 64*T1 of retransmissions
    assert config.timer_d == 64.0


def test_timer_d_is_at_least_32_seconds() -> None:
    assert TimerConfig(t1=0.1, t2=4.0).timer_d == 32.0


def test_unreliable_transport_values() -> None:
    timers = TimerConfig().for_transport(reliable=False)
    assert (timers.a, timers.e, timers.g) == (0.5, 0.5, 0.5)
    assert (timers.b, timers.f, timers.h, timers.j, timers.d) == (32.0, 32.0, 32.0, 32.0, 32.0)
    assert (timers.i, timers.k) == (5.0, 5.0)
    assert (timers.l, timers.m, timers.t2) == (32.0, 32.0, 4.0)


def test_reliable_transport_values() -> None:
    timers = TimerConfig().for_transport(reliable=True)
    assert (timers.a, timers.e, timers.g) == (None, None, None)
    assert (timers.d, timers.i, timers.j, timers.k) == (0.0, 0.0, 0.0, 0.0)
    assert (timers.b, timers.f, timers.h, timers.l, timers.m) == (32.0, 32.0, 32.0, 32.0, 32.0)


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TimerConfig().t1 = 1.0  # type: ignore[misc]  # asserting that assignment fails


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"t1": 0.0}, "T1 0.0 must be a positive number of seconds"),
        ({"t1": -1.0}, "T1 -1.0 must be a positive number of seconds"),
        ({"t2": math.inf}, "T2 inf must be a positive number of seconds"),
        ({"t4": math.nan}, "T4 nan must be a positive number of seconds"),
        ({"t1": 4.0}, "T1 4.0 must be below T2 4.0"),
        ({"t1": 5.0, "t2": 4.0}, "T1 5.0 must be below T2 4.0"),
        ({"timer_c": 180.0}, "Timer C 180.0 must exceed 180 s (RFC 3261 §16.6)"),
        ({"timer_c": 0.0}, "Timer C 0.0 must be a positive number of seconds"),
    ],
)
def test_invalid_values_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        TimerConfig(**kwargs)

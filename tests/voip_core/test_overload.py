"""The overload policy (voip_core.overload), with explicit measurements and ``now``.

Covers: the reasons in their order (backlog, lag, transactions), lag counted only at
LATE_MEASUREMENTS late measurements in a row, the counters by reason and their names in
the statistics, one warning when a request is first refused and none again within
OVERLOAD_REPORT_INTERVAL seconds, one line when overload ends. Not covered here: the
measuring itself and the 503 (tests/voip_core/test_node.py, tests/integration/test_faults.py).
"""

from __future__ import annotations

from voip_core.overload import (
    LATE_MEASUREMENTS,
    OVERLOAD_REPORT_INTERVAL,
    SHED_REASONS,
    OverloadLimits,
    OverloadPolicy,
    shed_key,
)

LIMITS = OverloadLimits(max_backlog=1000, max_lag=0.2, max_transactions=100)


def test_nothing_is_refused_within_the_limits() -> None:
    policy = OverloadPolicy(LIMITS)
    assert policy.measure(lag=0.1, backlog_bytes=1000, transactions=99) is None
    assert policy.reason(99) is None


def test_backlog_comes_before_lag_and_lag_before_transactions() -> None:
    policy = OverloadPolicy(LIMITS)
    for _ in range(LATE_MEASUREMENTS):
        policy.measure(lag=0.5, backlog_bytes=1001, transactions=100)
    assert policy.reason(100) == "backlog"
    policy.measure(lag=0.5, backlog_bytes=0, transactions=100)
    assert policy.reason(100) == "lag"
    policy.measure(lag=0.0, backlog_bytes=0, transactions=100)
    assert policy.reason(100) == "transactions"
    assert policy.reason(99) is None


def test_one_late_measurement_is_a_stall_not_overload() -> None:
    policy = OverloadPolicy(LIMITS)
    policy.measure(lag=0.5, backlog_bytes=0, transactions=0)
    assert (policy.late_streak, policy.reason(0)) == (1, None)
    policy.measure(lag=0.1, backlog_bytes=0, transactions=0)  # on time again: streak over
    policy.measure(lag=0.5, backlog_bytes=0, transactions=0)
    assert (policy.late_streak, policy.reason(0)) == (1, None)
    policy.measure(lag=0.3, backlog_bytes=0, transactions=0)
    assert policy.reason(0) == "lag"


def test_first_refusal_warns_once_per_interval_and_the_end_is_said_once() -> None:
    policy = OverloadPolicy(LIMITS)
    policy.measure(lag=0.0, backlog_bytes=4096, transactions=7)

    assert policy.shed("backlog", 7, now=100.0) == (
        "overloaded: 4096 bytes wait in the UDP receive buffers (limit 1000); "
        "refusing new requests with 503"
    )
    assert policy.shed("backlog", 7, now=100.1) is None
    assert policy.measure(lag=0.0, backlog_bytes=0, transactions=7) == (
        "no longer overloaded: taking new requests (2 refused in all)"
    )
    assert policy.measure(lag=0.0, backlog_bytes=0, transactions=7) is None
    # Overloaded again soon after: counted, but not warned about before the interval.
    assert policy.shed("transactions", 100, now=100.0 + OVERLOAD_REPORT_INTERVAL - 0.1) is None
    assert policy.shed("transactions", 100, now=100.0 + OVERLOAD_REPORT_INTERVAL) == (
        "overloaded: 100 live transactions (limit 100); refusing new requests with 503"
    )
    assert policy.shed_by_reason == {"backlog": 2, "transactions": 2}
    assert policy.shed_count == 4


def test_lag_warning_names_the_lag_and_its_limit_in_milliseconds() -> None:
    policy = OverloadPolicy(LIMITS)
    for _ in range(LATE_MEASUREMENTS):
        policy.measure(lag=0.345, backlog_bytes=0, transactions=0)
    assert policy.shed("lag", 0, now=1.0) == (
        "overloaded: the event loop runs 345 ms late (limit 200 ms); refusing new requests with 503"
    )


def test_statistics_name_each_reason_counter() -> None:
    assert [shed_key(reason) for reason in SHED_REASONS] == [
        "shed_backlog",
        "shed_lag",
        "shed_transactions",
    ]

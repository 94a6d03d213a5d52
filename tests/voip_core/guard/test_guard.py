"""The guard's decisions with explicit ``now``: guessing limits and the request rate.

Covered: a block after ``failure_limit`` failures within ``failure_window`` for one
(user, source), and only for that pair; the window expiring; a success forgetting the
failures; repeat offences doubling the block up to ``max_block_seconds`` and being
forgotten after it; the pike window (``rate_limit`` requests per ``rate_window``, the
excess dropped and the source blocked), exempt sources; expiry, lifting, adopting and
forgetting blocks with their events; bounded tables; the policy's checks; log-safe user
names. The authenticator's use of the guard (what counts as a failure) is in
``tests/voip_core/registrar/test_guarded_authentication.py``.
"""

from __future__ import annotations

import itertools

import pytest

from voip_core.guard import (
    Block,
    Blocked,
    FailureRecord,
    Guard,
    GuardEvent,
    GuardPolicy,
    MemoryGuardStore,
    RateWindow,
    Unblocked,
    count_failure,
    count_request,
    escape_user,
)

NOW = 1_800_000_000.0
ATTACKER = "127.0.0.2"
PHONE = "127.0.0.1"


def make_guard(
    policy: GuardPolicy | None = None, **kwargs: object
) -> tuple[Guard, list[GuardEvent]]:
    events: list[GuardEvent] = []
    ids = (f"{n:016x}" for n in itertools.count(1))
    guard = Guard(
        policy or GuardPolicy(),
        on_event=events.append,
        new_id=lambda: next(ids),
        **kwargs,  # type: ignore[arg-type]  # exempt or store, per test
    )
    return guard, events


def fail(
    guard: Guard, times: int, *, user: str = "8001", source: str = ATTACKER, now: float = NOW
) -> Block | None:
    block = None
    for index in range(times):
        block = guard.authentication_failed(user, source, now + index * 0.01)
    return block


def test_fifth_failure_within_the_window_blocks_the_source_for_that_user() -> None:
    guard, events = make_guard()
    assert fail(guard, 4) is None
    assert guard.refusal("8001", ATTACKER, NOW + 1) is None
    block = guard.authentication_failed("8001", ATTACKER, NOW + 2)
    assert block == Block(
        id="0000000000000001",
        source=ATTACKER,
        user="8001",
        reason="auth-failures",
        since=NOW + 2,
        until=NOW + 302,
        failures=5,
    )
    assert events == [Blocked(block)]
    assert guard.refusal("8001", ATTACKER, NOW + 301) == block
    assert guard.refusal("8001", ATTACKER, NOW + 302) is None
    assert (guard.auth_failures, guard.auth_blocks) == (5, 1)


def test_block_refuses_neither_other_sources_nor_other_users() -> None:
    guard, _ = make_guard()
    assert fail(guard, 5) is not None
    assert guard.refusal("8001", PHONE, NOW + 1) is None
    assert guard.refusal("8002", ATTACKER, NOW + 1) is None
    assert guard.admit(ATTACKER, NOW + 1)


def test_failures_further_apart_than_the_window_never_block() -> None:
    guard, events = make_guard()
    for minute in range(20):
        assert fail(guard, 4, now=NOW + 60 * minute) is None
    assert events == []


def test_window_opens_at_the_first_failure() -> None:
    record, seconds = count_failure(None, GuardPolicy(), NOW)
    assert (record, seconds) == (FailureRecord(1, NOW), None)
    record, _ = count_failure(record, GuardPolicy(), NOW + 59.9)
    assert record == FailureRecord(2, NOW)
    record, _ = count_failure(record, GuardPolicy(), NOW + 60)
    assert record == FailureRecord(1, NOW + 60)


def test_success_forgets_the_failures_so_far() -> None:
    guard, _ = make_guard()
    fail(guard, 4)
    guard.authentication_succeeded("8001", ATTACKER)
    assert fail(guard, 4, now=NOW + 1) is None


def test_repeat_offences_double_the_block_up_to_the_cap() -> None:
    policy = GuardPolicy(block_seconds=300, max_block_seconds=1000)
    guard, _ = make_guard(policy)
    lengths = []
    now = NOW
    for _ in range(4):
        block = fail(guard, 5, now=now)
        assert block is not None
        lengths.append(block.seconds)
        now = block.until
    assert lengths == [300, 600, 1000, 1000]


def test_offences_are_forgotten_after_the_longest_block() -> None:
    policy = GuardPolicy(block_seconds=300, max_block_seconds=1000)
    guard, _ = make_guard(policy)
    first = fail(guard, 5)
    assert first is not None
    later = fail(guard, 5, now=first.until + 1000)
    assert later is not None
    assert later.seconds == 300


def test_failures_during_a_block_return_the_block_and_make_no_new_one() -> None:
    guard, events = make_guard()
    block = fail(guard, 5)
    assert fail(guard, 10, now=NOW + 1) == block
    assert len(events) == 1


def test_limit_zero_never_blocks() -> None:
    guard, events = make_guard(GuardPolicy(failure_limit=0))
    assert fail(guard, 100) is None
    assert events == []


def test_rate_limit_drops_the_excess_and_blocks_the_source() -> None:
    guard, events = make_guard(GuardPolicy(rate_limit=100, rate_window=2, rate_block_seconds=60))
    assert all(guard.admit(ATTACKER, NOW + n * 0.01) for n in range(100))
    assert not guard.admit(ATTACKER, NOW + 1.5)
    assert events == [
        Blocked(
            Block(
                id="0000000000000001",
                source=ATTACKER,
                user=None,
                reason="rate-limit",
                since=NOW + 1.5,
                until=NOW + 61.5,
                failures=101,
            )
        )
    ]
    assert not guard.admit(ATTACKER, NOW + 61)
    assert guard.admit(PHONE, NOW + 2)
    assert guard.admit(ATTACKER, NOW + 61.5)
    assert (guard.rate_limited, guard.rate_blocks) == (2, 1)


def test_responses_are_not_counted_but_dropped_from_a_blocked_source() -> None:
    guard, _ = make_guard(GuardPolicy(rate_limit=2))
    assert all(guard.admit(ATTACKER, NOW, request=False) for _ in range(100))
    assert guard.admit(ATTACKER, NOW)
    assert guard.admit(ATTACKER, NOW)
    assert not guard.admit(ATTACKER, NOW)
    assert not guard.admit(ATTACKER, NOW, request=False)


def test_rate_window_restarts_after_its_length() -> None:
    policy = GuardPolicy(rate_limit=3, rate_window=2)
    window, over = count_request(None, policy, NOW)
    assert (window, over) == (RateWindow(1, NOW), False)
    for _ in range(2):
        window, over = count_request(window, policy, NOW + 1)
    assert (window, over) == (RateWindow(3, NOW), False)
    assert count_request(window, policy, NOW + 1.99) == (RateWindow(4, NOW), True)
    assert count_request(window, policy, NOW + 2) == (RateWindow(1, NOW + 2), False)


def test_a_phone_registering_and_calling_stays_under_the_default_rate() -> None:
    guard, events = make_guard()
    # Each second: a REGISTER pair, an INVITE with 10 retransmissions, ACK, BYE.
    for second in range(600):
        for n in range(15):
            assert guard.admit(PHONE, NOW + second + n / 20)
    assert events == []


def test_exempt_sources_are_never_counted() -> None:
    guard, events = make_guard(GuardPolicy(rate_limit=5), exempt=lambda source: source == PHONE)
    assert all(guard.admit(PHONE, NOW) for _ in range(1000))
    assert events == []


def test_sweep_ends_expired_blocks_and_reports_only_its_own() -> None:
    guard, events = make_guard()
    own = fail(guard, 5)
    assert own is not None
    foreign = Block("ff", "127.0.0.9", "8003", "auth-failures", NOW, NOW + 10, 5)
    guard.adopt(foreign)
    guard.sweep(NOW + 11)
    assert guard.blocks(NOW + 11) == [own]
    guard.sweep(own.until)
    assert guard.blocks(own.until) == []
    assert events == [Blocked(own), Unblocked(own, "expired")]


def test_adopted_block_is_enforced_and_forgotten_without_events() -> None:
    guard, events = make_guard()
    foreign = Block("ff", ATTACKER, "8001", "auth-failures", NOW, NOW + 300, 5)
    guard.adopt(foreign)
    assert guard.refusal("8001", ATTACKER, NOW + 1) == foreign
    assert guard.forget("ff") == foreign
    assert guard.refusal("8001", ATTACKER, NOW + 1) is None
    assert events == []


def test_adopted_rate_block_drops_the_source() -> None:
    guard, _ = make_guard()
    guard.adopt(Block("ee", ATTACKER, None, "rate-limit", NOW, NOW + 60, 101))
    assert not guard.admit(ATTACKER, NOW + 1)


def test_lift_ends_the_block_and_the_source_starts_afresh() -> None:
    guard, events = make_guard()
    block = fail(guard, 5)
    assert block is not None
    assert guard.lift(block.id) == block
    assert guard.lift(block.id) is None
    assert guard.refusal("8001", ATTACKER, NOW + 1) is None
    assert fail(guard, 4, now=NOW + 1) is None
    assert events == [Blocked(block), Unblocked(block, "lifted")]


def test_sweep_drops_stale_counters() -> None:
    store = MemoryGuardStore()
    guard, _ = make_guard(store=store)
    fail(guard, 2)
    guard.admit(PHONE, NOW)
    guard.sweep(NOW + 61)
    assert list(store.failures()) == []
    assert list(store.windows()) == []


def test_full_tables_stop_counting_new_sources() -> None:
    store = MemoryGuardStore(capacity=2)
    guard, events = make_guard(GuardPolicy(rate_limit=1), store=store)
    assert guard.admit("10.0.0.1", NOW)
    assert guard.admit("10.0.0.2", NOW)
    assert guard.admit("10.0.0.3", NOW)
    assert guard.admit("10.0.0.3", NOW)
    assert [source for source, _ in store.windows()] == ["10.0.0.1", "10.0.0.2"]
    assert events == []


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match=r"^max_block_seconds 10 is below block_seconds 300.0$"):
        GuardPolicy(max_block_seconds=10)
    with pytest.raises(ValueError, match=r"^rate_window 0 must be positive$"):
        GuardPolicy(rate_window=0)
    with pytest.raises(
        ValueError, match=r"^limits must not be negative: failures -1, requests 100$"
    ):
        GuardPolicy(failure_limit=-1)


def test_escape_user_keeps_fields_unforgeable() -> None:
    assert escape_user("8001") == "8001"
    assert escape_user("x source=10.0.0.1") == "x%20source%3D10.0.0.1"
    assert escape_user("用户") == "%E7%94%A8%E6%88%B7"
    assert escape_user("9" * 70) == "9" * 64 + "..."

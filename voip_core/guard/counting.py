"""The two counters, as pure functions of the previous record, the policy and ``now``.

Failed authentications (per user and source) use a window that opens at the first
failure and closes ``failure_window`` seconds later, like fail2ban's ``findtime``; the
block that follows lasts ``block_seconds`` doubled for every earlier offence still
remembered, capped at ``max_block_seconds``. Offences are forgotten once
``max_block_seconds`` pass after the last block ended, so a reformed source starts
again at the base length.

Requests per source use pike's fixed sampling window (Kamailio ``pike`` module): the
first request opens a window of ``rate_window`` seconds, and the request that makes the
count exceed ``rate_limit`` within it earns a block.
"""

from __future__ import annotations

from dataclasses import dataclass

from voip_core.guard.policy import GuardPolicy

__all__ = ["FailureRecord", "RateWindow", "count_failure", "count_request"]


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """Failed digest answers of one user from one source."""

    count: int
    """Failures in the current window."""
    window_start: float
    offences: int = 0
    """Blocks earned so far (remembered for ``max_block_seconds`` after the last ends)."""
    last_block_end: float = 0.0


@dataclass(frozen=True, slots=True)
class RateWindow:
    """Requests of one source in the current sampling window."""

    count: int
    window_start: float


def count_failure(
    record: FailureRecord | None, policy: GuardPolicy, now: float
) -> tuple[FailureRecord, float | None]:
    """Count one failure; return the new record and the block's length if one is earned."""
    offences, ended = (0, 0.0) if record is None else (record.offences, record.last_block_end)
    if offences and now - ended >= policy.max_block_seconds:
        offences = 0
    if record is None or now - record.window_start >= policy.failure_window:
        count, start = 1, now
    else:
        count, start = record.count + 1, record.window_start
    if policy.failure_limit and count >= policy.failure_limit:
        seconds = min(policy.block_seconds * 2.0**offences, policy.max_block_seconds)
        return FailureRecord(0, now, offences + 1, now + seconds), seconds
    return FailureRecord(count, start, offences, ended), None


def count_request(
    window: RateWindow | None, policy: GuardPolicy, now: float
) -> tuple[RateWindow, bool]:
    """Count one request; return the new window and whether it exceeds the limit."""
    if window is None or now - window.window_start >= policy.rate_window:
        window = RateWindow(1, now)
    else:
        window = RateWindow(window.count + 1, window.window_start)
    return window, bool(policy.rate_limit) and window.count > policy.rate_limit

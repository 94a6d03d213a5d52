"""Guessing and flood limits (issue #9): failed-digest lockout and a per-source rate limit.

Pure: no I/O, no clock; every method takes ``now``. See :mod:`voip_core.guard.guard`.
"""

from voip_core.guard.blocks import (
    Block,
    Blocked,
    BlockReason,
    GuardEvent,
    Unblocked,
    UnblockReason,
    escape_user,
)
from voip_core.guard.counting import FailureRecord, RateWindow, count_failure, count_request
from voip_core.guard.guard import Guard
from voip_core.guard.policy import GuardPolicy
from voip_core.guard.store import MAX_TRACKED, GuardStore, MemoryGuardStore

__all__ = [
    "MAX_TRACKED",
    "Block",
    "BlockReason",
    "Blocked",
    "FailureRecord",
    "Guard",
    "GuardEvent",
    "GuardPolicy",
    "GuardStore",
    "MemoryGuardStore",
    "RateWindow",
    "UnblockReason",
    "Unblocked",
    "count_failure",
    "count_request",
    "escape_user",
]

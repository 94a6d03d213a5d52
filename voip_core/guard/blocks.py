"""Blocks and the events that tell the adapter about them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "Block",
    "BlockReason",
    "Blocked",
    "GuardEvent",
    "UnblockReason",
    "Unblocked",
    "escape_user",
]

_PLAIN: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+")
#: Longest user name shown in a log line or reason phrase.
_MAX_SHOWN: Final = 64

#: Why a source was blocked: failed digest answers for one user, or too many requests.
BlockReason = Literal["auth-failures", "rate-limit"]
#: Why a block ended: its time ran out, or an operator lifted it.
UnblockReason = Literal["expired", "lifted"]


@dataclass(frozen=True, slots=True)
class Block:
    """A source refused, for one user (``auth-failures``) or altogether (``rate-limit``)."""

    id: str
    """Opaque identifier, unique across workers and nodes (the API's path parameter)."""
    source: str
    """The IP address refused."""
    user: str | None
    """The user it may not authenticate as; ``None`` for a rate block (every request)."""
    reason: BlockReason
    since: float
    """When the block began (seconds since the epoch)."""
    until: float
    """When it ends."""
    failures: int
    """The failed answers (``auth-failures``) or requests in the window (``rate-limit``)."""

    @property
    def seconds(self) -> int:
        """The block's length, whole seconds."""
        return round(self.until - self.since)

    def active(self, now: float) -> bool:
        """Whether the block still holds at ``now``."""
        return now < self.until


@dataclass(frozen=True, slots=True)
class Blocked:
    """A block was made here."""

    block: Block


@dataclass(frozen=True, slots=True)
class Unblocked:
    """A block made or adopted here ended."""

    block: Block
    reason: UnblockReason


GuardEvent = Blocked | Unblocked


def escape_user(user: str) -> str:
    """``user`` as a log line or reason phrase may show it: characters outside letters,
    digits and ``._-+`` percent-encoded (UTF-8), at most 64 shown. A user name comes from
    the request, so a space or ``source=`` in it must not forge a field that fail2ban reads.
    """
    if all(ch in _PLAIN for ch in user) and len(user) <= _MAX_SHOWN:
        return user
    shown = "".join(
        ch
        if ch in _PLAIN
        else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
        for ch in user
    )
    return shown[:_MAX_SHOWN] + ("..." if len(shown) > _MAX_SHOWN else "")

"""The limits the guard enforces, in one frozen value passed in by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_BLOCK_SECONDS",
    "DEFAULT_FAILURE_LIMIT",
    "DEFAULT_FAILURE_WINDOW",
    "DEFAULT_MAX_BLOCK_SECONDS",
    "DEFAULT_RATE_BLOCK_SECONDS",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RATE_WINDOW",
    "GuardPolicy",
]

#: Failed digest answers from one source for one user that earn a block. Five leaves a
#: person who mistypes a password on a handset a few tries; svcrack needs hundreds.
DEFAULT_FAILURE_LIMIT: Final = 5
#: Seconds within which those failures must fall.
DEFAULT_FAILURE_WINDOW: Final = 60.0
#: Seconds of the first block; each repeat offence doubles it.
DEFAULT_BLOCK_SECONDS: Final = 300.0
#: The longest block a repeat offender gets (one day).
DEFAULT_MAX_BLOCK_SECONDS: Final = 86_400.0
#: Requests one source may send in one sampling window, like Kamailio pike's
#: ``reqs_density_per_unit``. A phone that registers, calls and retransmits on UDP
#: (RFC 3261 §17.1.1.2: at most 11 copies of one request in Timer B) sends a few dozen.
DEFAULT_RATE_LIMIT: Final = 100
#: Seconds of one sampling window, like pike's ``sampling_time_unit`` (2 s).
DEFAULT_RATE_WINDOW: Final = 2.0
#: Seconds a source that exceeded the rate stays blocked.
DEFAULT_RATE_BLOCK_SECONDS: Final = 60.0


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """Guessing and flood limits; ``failure_limit`` or ``rate_limit`` 0 turns that off."""

    failure_limit: int = DEFAULT_FAILURE_LIMIT
    failure_window: float = DEFAULT_FAILURE_WINDOW
    block_seconds: float = DEFAULT_BLOCK_SECONDS
    max_block_seconds: float = DEFAULT_MAX_BLOCK_SECONDS
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_window: float = DEFAULT_RATE_WINDOW
    rate_block_seconds: float = DEFAULT_RATE_BLOCK_SECONDS

    def __post_init__(self) -> None:
        if self.failure_limit < 0 or self.rate_limit < 0:
            raise ValueError(
                f"limits must not be negative: failures {self.failure_limit}, "
                f"requests {self.rate_limit}"
            )
        for name in ("failure_window", "block_seconds", "rate_window", "rate_block_seconds"):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"{name} {value} must be positive")
        if self.max_block_seconds < self.block_seconds:
            raise ValueError(
                f"max_block_seconds {self.max_block_seconds} is below block_seconds "
                f"{self.block_seconds}"
            )

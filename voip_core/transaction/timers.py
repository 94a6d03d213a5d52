"""RFC 3261 Table 4 timer values, derived from T1, T2 and T4 (plus RFC 6026 Timers L and M).

:class:`TimerConfig` holds the three base values and derives every transaction timer from
them, like the Table 4 derivation in sipgo ``sip/transaction.go``. The values that depend
on the transport are resolved once per transport into :class:`TransportTimers`, so a
transaction reads plain attributes instead of branching on reliability at every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

__all__ = ["TimerConfig", "TransportTimers"]

#: RFC 3261 §16.6 step 11: Timer C "MUST be set for more than 3 minutes".
_TIMER_C_FLOOR: Final = 180.0

#: RFC 3261 Table 4: Timer D is "> 32 s for UDP" (it covers the server's Timer H span).
_TIMER_D_FLOOR: Final = 32.0


@dataclass(frozen=True, slots=True)
class TransportTimers:
    """Timer durations in seconds for one kind of transport.

    Retransmission timers (A, E, G) are ``None`` on reliable transports, where they are
    never started (§17.1.1.2, §17.1.2.2, §17.2.1). Wait timers (D, I, J, K) are ``0.0``
    there, which means the transaction leaves the state at once.
    """

    a: float | None
    """Timer A: first INVITE retransmission interval (doubles each time)."""
    b: float
    """Timer B: INVITE transaction timeout."""
    d: float
    """Timer D: wait time for response retransmissions after a non-2xx to INVITE."""
    e: float | None
    """Timer E: first non-INVITE retransmission interval (doubles up to T2)."""
    f: float
    """Timer F: non-INVITE transaction timeout."""
    g: float | None
    """Timer G: first INVITE final response retransmission interval (doubles up to T2)."""
    h: float
    """Timer H: wait time for ACK receipt."""
    i: float
    """Timer I: wait time for ACK retransmissions."""
    j: float
    """Timer J: wait time for non-INVITE request retransmissions."""
    k: float
    """Timer K: wait time for non-INVITE response retransmissions."""
    l: float  # noqa: E741 - the RFC 6026 timer letter
    """Timer L: wait time for INVITE retransmissions after a 2xx (RFC 6026 §8.7)."""
    m: float
    """Timer M: wait time for 2xx retransmissions to INVITE (RFC 6026 §8.4)."""
    t2: float
    """T2: the cap of Timers E and G."""


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """Base timer values (RFC 3261 §17.1.1.1, Table 4), validated on construction.

    The ``timer_*`` properties give the values for unreliable transports (UDP), as in the
    first column of Table 4; :meth:`for_transport` gives the values that apply to one
    transport kind.
    """

    t1: float = 0.5
    """T1: RTT estimate; the base of every retransmission and timeout timer."""
    t2: float = 4.0
    """T2: the longest retransmit interval for non-INVITE requests and INVITE responses."""
    t4: float = 5.0
    """T4: the longest time a message stays in the network."""
    timer_c: float = 181.0
    """Timer C: the proxy's INVITE transaction timeout (§16.6 step 11, > 3 min). The
    transaction layer never arms it; it is here so the proxy reads all timers from one place."""

    def __post_init__(self) -> None:
        for name, value in (
            ("T1", self.t1),
            ("T2", self.t2),
            ("T4", self.t4),
            ("Timer C", self.timer_c),
        ):
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} {value} must be a positive number of seconds")
        if self.t1 >= self.t2:
            raise ValueError(f"T1 {self.t1} must be below T2 {self.t2}")
        if self.timer_c <= _TIMER_C_FLOOR:
            raise ValueError(
                f"Timer C {self.timer_c} must exceed {_TIMER_C_FLOOR:g} s (RFC 3261 §16.6)"
            )

    @property
    def timer_a(self) -> float:
        """Timer A: T1 initially (§17.1.1.2)."""
        return self.t1

    @property
    def timer_b(self) -> float:
        """Timer B: 64*T1 (§17.1.1.2)."""
        return 64 * self.t1

    @property
    def timer_d(self) -> float:
        """Timer D: 32 s for UDP (§17.1.1.2), longer when 64*T1 is longer."""
        return max(_TIMER_D_FLOOR, 64 * self.t1)

    @property
    def timer_e(self) -> float:
        """Timer E: T1 initially (§17.1.2.2)."""
        return self.t1

    @property
    def timer_f(self) -> float:
        """Timer F: 64*T1 (§17.1.2.2)."""
        return 64 * self.t1

    @property
    def timer_g(self) -> float:
        """Timer G: T1 initially (§17.2.1)."""
        return self.t1

    @property
    def timer_h(self) -> float:
        """Timer H: 64*T1 (§17.2.1)."""
        return 64 * self.t1

    @property
    def timer_i(self) -> float:
        """Timer I: T4 for UDP (§17.2.1)."""
        return self.t4

    @property
    def timer_j(self) -> float:
        """Timer J: 64*T1 for UDP (§17.2.2)."""
        return 64 * self.t1

    @property
    def timer_k(self) -> float:
        """Timer K: T4 for UDP (§17.1.2.2)."""
        return self.t4

    @property
    def timer_l(self) -> float:
        """Timer L: 64*T1 (RFC 6026 §8.7)."""
        return 64 * self.t1

    @property
    def timer_m(self) -> float:
        """Timer M: 64*T1 (RFC 6026 §8.4)."""
        return 64 * self.t1

    def for_transport(self, reliable: bool) -> TransportTimers:
        """Timer values for a reliable (TCP, TLS, SCTP, WS) or unreliable (UDP) transport."""
        if reliable:
            return TransportTimers(
                a=None,
                b=self.timer_b,
                d=0.0,
                e=None,
                f=self.timer_f,
                g=None,
                h=self.timer_h,
                i=0.0,
                j=0.0,
                k=0.0,
                l=self.timer_l,
                m=self.timer_m,
                t2=self.t2,
            )
        return TransportTimers(
            a=self.timer_a,
            b=self.timer_b,
            d=self.timer_d,
            e=self.timer_e,
            f=self.timer_f,
            g=self.timer_g,
            h=self.timer_h,
            i=self.timer_i,
            j=self.timer_j,
            k=self.timer_k,
            l=self.timer_l,
            m=self.timer_m,
            t2=self.t2,
        )

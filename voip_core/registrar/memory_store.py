"""In-memory binding store: the hot path of every deployment.

Theory of operation: ``_bindings`` maps each AOR to its tuple of bindings (tuples are
immutable, so a reader on another thread always sees a whole set). Expiry uses a heap
of ``(time, aor)`` with at most one *live* entry per AOR: ``_scheduled[aor]`` is the
time of that entry, the AOR's earliest ``expires_at``. A refresh that moves the
earliest expiry later pushes nothing; the old entry fires early, finds nothing expired
and reschedules. Entries whose time no longer matches ``_scheduled`` are stale and
skipped. So the heap stays near one entry per AOR however often phones refresh, and
:meth:`MemoryBindingStore.purge_expired` costs O(expired · log n) instead of a scan.

Not thread-safe on its own; :class:`voip_core.storage.persistent.PersistentBindingStore`
adds the lock it needs for its flush thread.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence

from voip_core.registrar.binding import Binding

__all__ = ["MemoryBindingStore"]


class MemoryBindingStore:
    """Bindings in dictionaries, with an expiry heap (implements ``BindingStore``)."""

    def __init__(self) -> None:
        self._bindings: dict[str, tuple[Binding, ...]] = {}
        self._scheduled: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._count = 0

    def get(self, aor: str) -> tuple[Binding, ...]:
        """The AOR's bindings, empty when it has none."""
        return self._bindings.get(aor, ())

    def replace(self, aor: str, bindings: Sequence[Binding]) -> None:
        """Make ``bindings`` the AOR's complete set (empty removes the AOR)."""
        new = tuple(bindings)
        for binding in new:
            if binding.aor != aor:
                raise ValueError(f"binding of {binding.aor!r} given for {aor!r}")
        old = self._bindings.pop(aor, ())
        self._count += len(new) - len(old)
        if not new:
            self._scheduled.pop(aor, None)
            return
        self._bindings[aor] = new
        earliest = min(binding.expires_at for binding in new)
        scheduled = self._scheduled.get(aor)
        if scheduled is None or earliest < scheduled:
            self._scheduled[aor] = earliest
            heapq.heappush(self._heap, (earliest, aor))

    def by_gruu(self, aor: str, instance_id: str) -> tuple[Binding, ...]:
        """The AOR's bindings with ``+sip.instance`` ``instance_id``."""
        return tuple(b for b in self._bindings.get(aor, ()) if b.instance_id == instance_id)

    def purge_expired(self, now: float) -> int:
        """Remove bindings with ``expires_at <= now``; return how many were removed."""
        removed = 0
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, aor = heapq.heappop(heap)
            if self._scheduled.get(aor) != when:
                continue  # stale entry: the AOR was rescheduled or removed
            del self._scheduled[aor]
            bindings = self._bindings.get(aor, ())
            alive = tuple(binding for binding in bindings if binding.expires_at > now)
            removed += len(bindings) - len(alive)
            self.replace(aor, alive)
        return removed

    def all_bindings(self) -> Iterator[Binding]:
        """Every stored binding (a snapshot taken when iteration starts)."""
        for bindings in list(self._bindings.values()):
            yield from bindings

    def count(self) -> int:
        """Number of stored bindings."""
        return self._count

    def aors(self) -> list[str]:
        """Every AOR with at least one binding."""
        return list(self._bindings)

    def clear(self) -> None:
        """Remove everything."""
        self._bindings.clear()
        self._scheduled.clear()
        self._heap.clear()
        self._count = 0

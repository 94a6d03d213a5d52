"""Registrations replicated between worker processes (the store side, no I/O).

Each worker holds every binding in memory, so the proxy's location lookups never leave
the process. Only the worker that owns an address-of-record changes it (REGISTERs are
sharded by the To user, :mod:`voip_core.cluster.sharding`), so a change can simply be
copied to the other workers as the AOR's complete new set, with no merging: the
registrar's ``replace(aor, bindings)`` records the AOR as changed, the adapter takes the
changes once per event-loop turn (:meth:`ReplicatedBindingStore.take_changes`) and
sends them, and the other workers :meth:`~ReplicatedBindingStore.apply` them to their
copy. Expiry needs no messages: every copy purges by the same clock.

A worker that starts (or restarts) receives a snapshot from worker 0 while live changes
may already arrive from the others; :meth:`~ReplicatedBindingStore.apply_snapshot`
therefore skips the AORs a live change (another worker's or its own) has set since the
worker started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from voip_core.cluster.wire import BindingChange
from voip_core.registrar.binding import Binding
from voip_core.registrar.store import BindingStore

__all__ = ["ReplicatedBindingStore"]


class ReplicatedBindingStore:
    """A local ``BindingStore`` whose changes are recorded for the other workers."""

    def __init__(self, local: BindingStore, on_change: Callable[[], None] | None = None) -> None:
        self._local = local
        #: Called when the first change since the last :meth:`take_changes` is recorded.
        self.on_change = on_change or (lambda: None)
        self._changes: dict[str, tuple[Binding, ...]] = {}
        self._live: set[str] | None = set()

    # -- BindingStore ---------------------------------------------------------------

    def get(self, aor: str) -> tuple[Binding, ...]:
        """The AOR's bindings."""
        return self._local.get(aor)

    def replace(self, aor: str, bindings: Sequence[Binding]) -> None:
        """Change the AOR here and record the change for the other workers."""
        self._local.replace(aor, bindings)
        if self._live is not None:
            self._live.add(aor)  # newer than whatever a snapshot still in transit holds
        first = not self._changes
        self._changes[aor] = tuple(bindings)
        if first:
            self.on_change()

    def by_gruu(self, aor: str, instance_id: str) -> tuple[Binding, ...]:
        """The AOR's bindings with ``+sip.instance`` ``instance_id``."""
        return self._local.by_gruu(aor, instance_id)

    def purge_expired(self, now: float) -> int:
        """Remove expired bindings from this copy (every copy purges by itself)."""
        return self._local.purge_expired(now)

    def all_bindings(self) -> Iterator[Binding]:
        """Every binding of this copy."""
        return self._local.all_bindings()

    def count(self) -> int:
        """Bindings in this copy."""
        return self._local.count()

    # -- replication ----------------------------------------------------------------

    def take_changes(self) -> list[BindingChange]:
        """The AORs changed here since the last call, each with its complete new set."""
        changes: list[BindingChange] = list(self._changes.items())
        self._changes.clear()
        return changes

    def apply(self, changes: Sequence[BindingChange]) -> None:
        """Apply changes another worker made."""
        for aor, bindings in changes:
            self._local.replace(aor, bindings)
            if self._live is not None:
                self._live.add(aor)

    def apply_snapshot(self, changes: Sequence[BindingChange]) -> None:
        """Apply one batch of worker 0's snapshot; an empty batch ends the snapshot."""
        if not changes:
            self._live = None
            return
        live = self._live or set()
        for aor, bindings in changes:
            if aor not in live:
                self._local.replace(aor, bindings)

    @property
    def snapshot_received(self) -> bool:
        """Whether a whole snapshot has been applied (its empty last batch arrived)."""
        return self._live is None

    def snapshot(self, batch: int = 500) -> Iterator[list[BindingChange]]:
        """Every AOR's bindings in batches of ``batch`` AORs, then one empty batch."""
        by_aor: dict[str, list[Binding]] = {}
        for binding in self._local.all_bindings():
            by_aor.setdefault(binding.aor, []).append(binding)
        items = list(by_aor.items())
        for start in range(0, len(items), batch):
            yield [(aor, tuple(bindings)) for aor, bindings in items[start : start + batch]]
        yield []

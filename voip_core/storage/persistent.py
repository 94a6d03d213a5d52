"""Memory as the hot path, SQL behind it: write-behind persistence of registrations.

Theory of operation
-------------------
Every read (``get``, ``by_gruu``...) is a dictionary lookup in a
:class:`~voip_core.registrar.memory_store.MemoryBindingStore`; no SIP request waits
for the database. ``replace`` updates memory and marks the AOR *dirty*. The adapter
calls :meth:`PersistentBindingStore.flush` about every 100 ms from a worker thread
(``await asyncio.to_thread(store.flush)``): it takes the dirty set and a snapshot of
those AORs' bindings under a lock, then writes them with one batched
:meth:`~voip_core.storage.sql_store.SqlBindingStore.replace_many` outside the lock.
Expired rows are deleted by time at the next flush after ``purge_expired``.

At start-up :meth:`PersistentBindingStore.load` fills memory with the unexpired rows,
so a restart loses no registration, only what was written in the last flush interval
before a crash (phones re-register within their refresh interval anyway).

A failed flush puts its AORs back in the dirty set and re-raises, so the next flush
retries them; a second lock keeps two flushes from writing out of order.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Final

from sqlalchemy.exc import SQLAlchemyError

from voip_core.registrar.binding import Binding
from voip_core.registrar.memory_store import MemoryBindingStore
from voip_core.storage.sql_store import SqlBindingStore

__all__ = ["DEFAULT_FLUSH_INTERVAL", "PersistentBindingStore", "flush_periodically"]

logger = logging.getLogger(__name__)

#: Seconds between write-behind flushes: at most this much registration work is lost
#: in a crash, and one batch carries every AOR changed meanwhile.
DEFAULT_FLUSH_INTERVAL: Final = 0.1


class PersistentBindingStore:
    """Memory store with write-behind to SQL (implements ``BindingStore``)."""

    def __init__(self, sql: SqlBindingStore, memory: MemoryBindingStore | None = None) -> None:
        self._sql = sql
        self._memory = memory if memory is not None else MemoryBindingStore()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._dirty: set[str] = set()
        self._purge_up_to: float | None = None

    # -- BindingStore ---------------------------------------------------------------

    def get(self, aor: str) -> tuple[Binding, ...]:
        """The AOR's bindings, from memory."""
        return self._memory.get(aor)

    def replace(self, aor: str, bindings: Sequence[Binding]) -> None:
        """Update memory now and SQL at the next flush."""
        with self._lock:
            self._memory.replace(aor, bindings)
            self._dirty.add(aor)

    def by_gruu(self, aor: str, instance_id: str) -> tuple[Binding, ...]:
        """The AOR's bindings with ``+sip.instance`` ``instance_id``, from memory."""
        return self._memory.by_gruu(aor, instance_id)

    def purge_expired(self, now: float) -> int:
        """Remove expired bindings from memory now and from SQL at the next flush."""
        with self._lock:
            removed = self._memory.purge_expired(now)
            if self._purge_up_to is None or now > self._purge_up_to:
                self._purge_up_to = now
        return removed

    def all_bindings(self) -> Iterator[Binding]:
        """Every binding in memory."""
        with self._lock:
            snapshot = list(self._memory.all_bindings())
        return iter(snapshot)

    def count(self) -> int:
        """Number of bindings in memory."""
        return self._memory.count()

    # -- persistence ----------------------------------------------------------------

    @property
    def pending(self) -> int:
        """AORs changed since the last flush."""
        with self._lock:
            return len(self._dirty)

    def flush(self) -> int:
        """Write the AORs changed since the last flush; return how many were written.

        Blocking: call it from a worker thread. On a database error the AORs stay
        pending and the error propagates.
        """
        with self._flush_lock:
            with self._lock:
                dirty, self._dirty = self._dirty, set()
                snapshot = {aor: self._memory.get(aor) for aor in dirty}
                purge_up_to, self._purge_up_to = self._purge_up_to, None
            try:
                if snapshot:
                    self._sql.replace_many(snapshot)
                if purge_up_to is not None:
                    self._sql.purge_expired(purge_up_to)
            except BaseException:
                with self._lock:
                    self._dirty |= dirty
                    if purge_up_to is not None and (
                        self._purge_up_to is None or purge_up_to > self._purge_up_to
                    ):
                        self._purge_up_to = purge_up_to
                raise
        if snapshot:
            logger.debug("flushed %d registration AORs", len(snapshot))
        return len(snapshot)

    def load(self, now: float) -> int:
        """Replace memory with the unexpired bindings in SQL; return how many were loaded."""
        by_aor: defaultdict[str, list[Binding]] = defaultdict(list)
        for binding in self._sql.unexpired(now):
            by_aor[binding.aor].append(binding)
        with self._lock:
            self._memory.clear()
            self._dirty.clear()
            for aor, bindings in by_aor.items():
                self._memory.replace(aor, bindings)
        loaded = sum(len(bindings) for bindings in by_aor.values())
        logger.info("restored %d registration bindings of %d AORs", loaded, len(by_aor))
        return loaded


async def flush_periodically(
    store: PersistentBindingStore, *, interval: float = DEFAULT_FLUSH_INTERVAL
) -> None:
    """Flush ``store`` every ``interval`` seconds from a worker thread until cancelled.

    A database error is logged and the AORs stay pending for the next round; on
    cancellation (shutdown) one last flush writes what is left.
    """
    delay = interval
    try:
        while True:
            await asyncio.sleep(delay)
            try:
                await asyncio.to_thread(store.flush)
            except SQLAlchemyError as error:
                # An outage: back off (up to 5 s) rather than log ten times a second.
                delay = min(max(delay * 2, interval), _MAX_RETRY_INTERVAL)
                logger.warning(
                    "writing registrations failed (%s); %d AORs kept pending, retry in %.1f s",
                    _first_line(error),
                    store.pending,
                    delay,
                )
            else:
                delay = interval
    except asyncio.CancelledError:
        try:
            await asyncio.to_thread(store.flush)
        except SQLAlchemyError as error:
            logger.error(
                "registrations of %d AORs not written at shutdown: %s",
                store.pending,
                _first_line(error),
            )
        raise


#: Longest wait between flush attempts while the database is unavailable.
_MAX_RETRY_INTERVAL = 5.0


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__

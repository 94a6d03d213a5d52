"""Where the guard keeps its counters and blocks: the :class:`GuardStore` port.

:class:`MemoryGuardStore` keeps them in one process's dictionaries. Sharing blocks
between processes and nodes, and keeping them over a restart, is the adapter's work
(:mod:`voip_core.storage.security_blocks`): it copies blocks in with
:meth:`~voip_core.guard.guard.Guard.adopt` and out from the guard's events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Protocol

from voip_core.guard.blocks import Block
from voip_core.guard.counting import FailureRecord, RateWindow

__all__ = ["MAX_TRACKED", "GuardStore", "MemoryGuardStore"]

#: Entries each table holds at most. A flood from spoofed addresses must not grow the
#: tables without bound; beyond this, new sources are not counted until the next sweep
#: frees room (blocks already made still hold).
MAX_TRACKED: Final = 65_536


class GuardStore(Protocol):
    """Failure records per (user, source), rate windows per source, and blocks."""

    def failure(self, user: str, source: str) -> FailureRecord | None:
        """The record of ``user``'s failures from ``source``."""
        ...

    def set_failure(self, user: str, source: str, record: FailureRecord | None) -> bool:
        """Store (or with ``None`` drop) a record; ``False`` when the table is full."""
        ...

    def failures(self) -> Iterator[tuple[str, str, FailureRecord]]:
        """Every (user, source, record)."""
        ...

    def window(self, source: str) -> RateWindow | None:
        """The current sampling window of ``source``."""
        ...

    def set_window(self, source: str, window: RateWindow | None) -> bool:
        """Store (or drop) a window; ``False`` when the table is full."""
        ...

    def windows(self) -> Iterator[tuple[str, RateWindow]]:
        """Every (source, window)."""
        ...

    def user_block(self, user: str, source: str) -> Block | None:
        """The block refusing ``user`` from ``source``."""
        ...

    def rate_block(self, source: str) -> Block | None:
        """The block refusing every request from ``source``."""
        ...

    def add_block(self, block: Block) -> None:
        """Hold ``block`` (replacing one for the same user and source)."""
        ...

    def remove_block(self, block_id: str) -> Block | None:
        """Drop the block ``block_id``; return it, or ``None`` if absent."""
        ...

    def blocks(self) -> list[Block]:
        """Every block held."""
        ...


class MemoryGuardStore:
    """:class:`GuardStore` in dictionaries, bounded by :data:`MAX_TRACKED` per table."""

    def __init__(self, *, capacity: int = MAX_TRACKED) -> None:
        self._capacity = capacity
        self._failures: dict[tuple[str, str], FailureRecord] = {}
        self._windows: dict[str, RateWindow] = {}
        self._user_blocks: dict[tuple[str, str], Block] = {}
        self._rate_blocks: dict[str, Block] = {}
        self._by_id: dict[str, Block] = {}

    def failure(self, user: str, source: str) -> FailureRecord | None:
        """The record of ``user``'s failures from ``source``."""
        return self._failures.get((user, source))

    def set_failure(self, user: str, source: str, record: FailureRecord | None) -> bool:
        """Store (or with ``None`` drop) a record; ``False`` when the table is full."""
        key = (user, source)
        if record is None:
            self._failures.pop(key, None)
            return True
        if key not in self._failures and len(self._failures) >= self._capacity:
            return False
        self._failures[key] = record
        return True

    def failures(self) -> Iterator[tuple[str, str, FailureRecord]]:
        """Every (user, source, record), safe to drop entries while iterating."""
        for (user, source), record in list(self._failures.items()):
            yield user, source, record

    def window(self, source: str) -> RateWindow | None:
        """The current sampling window of ``source``."""
        return self._windows.get(source)

    def set_window(self, source: str, window: RateWindow | None) -> bool:
        """Store (or drop) a window; ``False`` when the table is full."""
        if window is None:
            self._windows.pop(source, None)
            return True
        if source not in self._windows and len(self._windows) >= self._capacity:
            return False
        self._windows[source] = window
        return True

    def windows(self) -> Iterator[tuple[str, RateWindow]]:
        """Every (source, window), safe to drop entries while iterating."""
        yield from list(self._windows.items())

    def user_block(self, user: str, source: str) -> Block | None:
        """The block refusing ``user`` from ``source``."""
        return self._user_blocks.get((user, source))

    def rate_block(self, source: str) -> Block | None:
        """The block refusing every request from ``source``."""
        return self._rate_blocks.get(source)

    def add_block(self, block: Block) -> None:
        """Hold ``block`` (replacing one for the same user and source)."""
        if block.user is None:
            previous = self._rate_blocks.get(block.source)
            self._rate_blocks[block.source] = block
        else:
            previous = self._user_blocks.get((block.user, block.source))
            self._user_blocks[(block.user, block.source)] = block
        if previous is not None:
            self._by_id.pop(previous.id, None)
        self._by_id[block.id] = block

    def remove_block(self, block_id: str) -> Block | None:
        """Drop the block ``block_id``; return it, or ``None`` if absent."""
        block = self._by_id.pop(block_id, None)
        if block is None:
            return None
        if block.user is None:
            self._rate_blocks.pop(block.source, None)
        else:
            self._user_blocks.pop((block.user, block.source), None)
        return block

    def blocks(self) -> list[Block]:
        """Every block held, oldest first."""
        return sorted(self._by_id.values(), key=lambda block: (block.since, block.id))

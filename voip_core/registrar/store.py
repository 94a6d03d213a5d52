"""The port through which the registrar and the proxy reach registration state.

Like Kamailio's usrloc API (``src/modules/usrloc/usrloc.h``) beside its registrar: the
REGISTER logic is pure and calls nothing; the transaction user reads ``get(aor)``,
runs :func:`~voip_core.registrar.register.process_register`, and writes the outcome
with ``replace(aor, bindings)``.

Implementations: :class:`~voip_core.registrar.memory_store.MemoryBindingStore`
(pure), and in :mod:`voip_core.storage` the SQL, write-behind persistent and Redis
stores.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from voip_core.registrar.binding import Binding

__all__ = ["BindingStore"]


class BindingStore(Protocol):
    """Bindings by address-of-record.

    Reads may return bindings that expired since the last :meth:`purge_expired`; callers
    compare ``expires_at`` with their ``now``. Every binding passed to :meth:`replace`
    has ``aor`` equal to the ``aor`` argument.
    """

    def get(self, aor: str) -> tuple[Binding, ...]:
        """The AOR's bindings, empty when it has none."""
        ...

    def replace(self, aor: str, bindings: Sequence[Binding]) -> None:
        """Make ``bindings`` the AOR's complete set (empty removes the AOR)."""
        ...

    def by_gruu(self, aor: str, instance_id: str) -> tuple[Binding, ...]:
        """The AOR's bindings registered with ``+sip.instance`` ``instance_id``.

        The lookup behind :func:`~voip_core.registrar.gruu.resolve_gruu`.
        """
        ...

    def purge_expired(self, now: float) -> int:
        """Remove bindings with ``expires_at <= now``; return how many were removed."""
        ...

    def all_bindings(self) -> Iterator[Binding]:
        """Every stored binding, in no particular order."""
        ...

    def count(self) -> int:
        """Number of stored bindings."""
        ...

"""The location service over the registrar's binding store (RFC 3261 §10, RFC 5627)."""

from __future__ import annotations

from collections.abc import Sequence

from voip_core.proxy.ports import ContactTarget
from voip_core.registrar.binding import Binding
from voip_core.registrar.gruu import is_gruu, resolve_gruu
from voip_core.registrar.store import BindingStore
from voip_core.sip.uri import SipUri

__all__ = ["StoreLocation"]


def _target(binding: Binding) -> ContactTarget:
    # The REGISTER's source is the flow that reaches the phone through NAT, and over
    # TCP the very connection it keeps open (RFC 5626 §5.3, RFC 3261 §18.2.2).
    return ContactTarget(uri=binding.contact_uri, destination=binding.source, path=binding.path, q=binding.q)


class StoreLocation:
    """Contacts for AORs and GRUUs, from a :class:`BindingStore`."""

    def __init__(self, store: BindingStore, *, gruu_secret: bytes) -> None:
        self._store = store
        self._gruu_secret = gruu_secret

    def lookup(self, aor: str, now: float) -> Sequence[ContactTarget]:
        """Unexpired contacts, highest q first (RFC 3261 §16.6 ordering hint)."""
        bindings = [b for b in self._store.get(aor) if b.expires_at > now]
        bindings.sort(key=lambda b: -(b.q if b.q is not None else 1.0))
        return [_target(b) for b in bindings]

    def lookup_gruu(self, uri: SipUri, now: float) -> Sequence[ContactTarget] | None:
        """Contacts a public or temporary GRUU reaches; ``None`` if ``uri`` is no GRUU."""
        if not is_gruu(uri):
            return None
        bindings = resolve_gruu(uri, self._store.by_gruu, gruu_secret=self._gruu_secret, now=now)
        return [_target(b) for b in bindings]

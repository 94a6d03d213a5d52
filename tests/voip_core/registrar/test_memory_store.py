"""The in-memory store's expiry heap (its BindingStore contract is in tests/voip_core/storage).

Covered: one live heap entry per AOR; entries made stale by an earlier expiry or by
removing the AOR are skipped; a refresh that moves the expiry later pushes nothing.
"""

from __future__ import annotations

from registration_requests import AOR, NOW, PHONE

from voip_core.registrar import Binding, MemoryBindingStore


def binding(expires_in: float, contact: str = "sip:8001@10.1.2.3") -> Binding:
    return Binding(
        aor=AOR,
        contact=contact,
        expires_at=NOW + expires_in,
        call_id="c",
        cseq=1,
        source=PHONE,
        registered_at=NOW,
    )


def test_refreshes_do_not_grow_the_heap() -> None:
    store = MemoryBindingStore()
    for step in range(100):
        store.replace(AOR, [binding(600 + step)])
    assert len(store._heap) == 1
    assert store.purge_expired(NOW + 600) == 0  # the entry fires early, reschedules
    assert len(store._heap) == 1
    assert store.purge_expired(NOW + 699) == 1


def test_stale_entries_are_skipped() -> None:
    store = MemoryBindingStore()
    store.replace(AOR, [binding(600)])
    store.replace(AOR, [binding(60)])  # earlier: a second entry, the first goes stale
    assert store.purge_expired(NOW + 60) == 1
    store.replace(AOR, [binding(900)])
    assert store.purge_expired(NOW + 600) == 0  # the stale 600 entry is skipped
    store.replace(AOR, [])
    assert store.purge_expired(NOW + 900) == 0  # removed AOR: its entry is stale
    assert store._heap == []

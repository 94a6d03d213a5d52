"""Registrations replicated between workers, the store side: ``voip_core/cluster/replica.py``.

Covered: the ``BindingStore`` reads and purge pass through to the local copy; every
``replace`` is recorded as the AOR's complete new set, removals included, and
``on_change`` is called once per batch, on the first change after ``take_changes``; a
change the local store refuses is not recorded; changes from other workers (``apply``)
are not recorded again, so they never echo back; a snapshot comes in batches of AORs
and ends with one empty batch; ``apply_snapshot`` fills a fresh copy but skips the AORs
a live change has already set, until the snapshot ends.

Left out: the frames that carry these changes (``test_wire.py``, ``test_router.py``).
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.voip_core.storage.binding_samples import AOR, INSTANCE, NOW, make_binding
from voip_core.cluster.replica import ReplicatedBindingStore
from voip_core.registrar.binding import Binding
from voip_core.registrar.memory_store import MemoryBindingStore
from voip_core.registrar.store import BindingStore
from voip_core.sip.peer import Peer

OTHER = "sip:8002@xiayi.gov.cn"


class Calls:
    """A recording ``on_change``."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def aor(n: int) -> str:
    return f"sip:{8000 + n}@xiayi.gov.cn"


def binding_of(address: str, contact_host: str = "10.1.2.3", **changes: object) -> Binding:
    user = address[4:].partition("@")[0]
    return make_binding(address, f"sip:{user}@{contact_host}:5060", **changes)


def replica() -> tuple[ReplicatedBindingStore, MemoryBindingStore, Calls]:
    local = MemoryBindingStore()
    calls = Calls()
    return ReplicatedBindingStore(local, on_change=calls), local, calls


# -- the BindingStore port ----------------------------------------------------------------


def test_is_a_binding_store_over_the_local_copy() -> None:
    store, local, _ = replica()
    port: BindingStore = store
    with_instance = binding_of(AOR, instance_id=INSTANCE, expires_at=NOW + 10)
    plain = binding_of(AOR, "10.1.2.4")
    port.replace(AOR, [with_instance, plain])
    port.replace(OTHER, [binding_of(OTHER)])
    assert port.get(AOR) == local.get(AOR) == (with_instance, plain)
    assert port.get("sip:9999@xiayi.gov.cn") == ()
    assert port.by_gruu(AOR, INSTANCE) == (with_instance,)
    assert port.by_gruu(AOR, "urn:uuid:other") == ()
    assert port.count() == 3
    assert sorted(b.contact for b in port.all_bindings()) == [
        "sip:8001@10.1.2.3:5060",
        "sip:8001@10.1.2.4:5060",
        "sip:8002@10.1.2.3:5060",
    ]
    assert port.purge_expired(NOW + 10) == 1
    assert local.get(AOR) == (plain,)
    assert port.count() == 2


def test_purge_is_not_recorded_as_a_change() -> None:
    # Every copy purges by the same clock; no change has to travel.
    store, _, calls = replica()
    store.replace(AOR, [binding_of(AOR, expires_at=NOW + 10)])
    store.take_changes()
    assert store.purge_expired(NOW + 10) == 1
    assert store.take_changes() == []
    assert calls.count == 1


def test_default_on_change_does_nothing() -> None:
    store = ReplicatedBindingStore(MemoryBindingStore())
    store.replace(AOR, [binding_of(AOR)])
    assert store.take_changes() == [(AOR, (binding_of(AOR),))]


# -- recording changes --------------------------------------------------------------------


def test_replace_records_the_complete_new_set() -> None:
    store, _, _ = replica()
    first = binding_of(AOR)
    second = binding_of(AOR, "10.1.2.4")
    store.replace(AOR, [first])
    store.replace(AOR, [first, second])
    store.replace(OTHER, [binding_of(OTHER)])
    assert store.take_changes() == [(AOR, (first, second)), (OTHER, (binding_of(OTHER),))]
    assert store.take_changes() == []


def test_removal_is_recorded_as_an_empty_set() -> None:
    store, local, _ = replica()
    store.replace(AOR, [binding_of(AOR)])
    store.replace(AOR, [])
    assert store.take_changes() == [(AOR, ())]
    assert local.get(AOR) == ()


def test_changes_keep_the_order_of_first_change() -> None:
    store, _, _ = replica()
    for n in (3, 1, 2):
        store.replace(aor(n), [binding_of(aor(n))])
    store.replace(aor(3), [])
    assert [address for address, _ in store.take_changes()] == [aor(3), aor(1), aor(2)]


def test_on_change_is_called_once_until_the_changes_are_taken() -> None:
    store, _, calls = replica()
    store.replace(AOR, [binding_of(AOR)])
    assert calls.count == 1
    store.replace(AOR, [binding_of(AOR, "10.1.2.4")])
    store.replace(OTHER, [binding_of(OTHER)])
    assert calls.count == 1
    assert len(store.take_changes()) == 2
    store.replace(OTHER, [])
    assert calls.count == 2
    store.replace(AOR, [])
    assert calls.count == 2


def test_on_change_fires_again_after_each_take() -> None:
    store, _, calls = replica()
    assert store.take_changes() == []
    store.replace(AOR, [binding_of(AOR)])
    store.take_changes()
    assert store.take_changes() == []
    store.replace(AOR, [])
    assert calls.count == 2


def test_change_refused_by_the_local_store_is_not_recorded() -> None:
    store, _, calls = replica()
    with pytest.raises(ValueError, match="given for") as caught:
        store.replace(AOR, [binding_of(OTHER)])
    assert str(caught.value) == f"binding of {OTHER!r} given for {AOR!r}"
    assert store.take_changes() == []
    assert calls.count == 0


def test_recorded_set_does_not_follow_the_callers_list() -> None:
    store, _, _ = replica()
    bindings = [binding_of(AOR)]
    store.replace(AOR, bindings)
    bindings.append(binding_of(AOR, "10.1.2.4"))
    assert store.take_changes() == [(AOR, (binding_of(AOR),))]


def test_on_change_can_be_set_after_construction() -> None:
    store = ReplicatedBindingStore(MemoryBindingStore())
    calls = Calls()
    store.on_change = calls
    store.replace(AOR, [binding_of(AOR)])
    assert calls.count == 1


# -- applying other workers' changes ------------------------------------------------------


def test_apply_sets_the_local_copy_without_recording() -> None:
    store, local, calls = replica()
    store.replace(OTHER, [binding_of(OTHER)])
    store.take_changes()
    store.apply([(AOR, [binding_of(AOR)]), (OTHER, [])])
    assert local.get(AOR) == (binding_of(AOR),)
    assert local.get(OTHER) == ()
    assert store.take_changes() == []
    assert calls.count == 1


def test_apply_keeps_own_pending_changes() -> None:
    store, _, _ = replica()
    store.replace(AOR, [binding_of(AOR)])
    store.apply([(OTHER, [binding_of(OTHER)])])
    assert store.take_changes() == [(AOR, (binding_of(AOR),))]


# -- snapshots ----------------------------------------------------------------------------


def test_snapshot_of_an_empty_store_is_one_empty_batch() -> None:
    store, _, _ = replica()
    assert list(store.snapshot()) == [[]]


def test_snapshot_comes_in_batches_of_aors_then_an_empty_batch() -> None:
    store, _, _ = replica()
    for n in range(1, 6):
        store.replace(aor(n), [binding_of(aor(n)), binding_of(aor(n), "10.1.2.9")])
    batches = list(store.snapshot(batch=2))
    assert [len(batch) for batch in batches] == [2, 2, 1, 0]
    assert [change for batch in batches for change in batch] == [
        (aor(n), (binding_of(aor(n)), binding_of(aor(n), "10.1.2.9"))) for n in range(1, 6)
    ]


def test_snapshot_default_batch_is_500_aors() -> None:
    store, _, _ = replica()
    for n in range(501):
        store.replace(aor(n), [binding_of(aor(n))])
    assert [len(batch) for batch in store.snapshot()] == [500, 1, 0]


def test_snapshot_is_not_recorded_as_a_change() -> None:
    store, _, calls = replica()
    store.replace(AOR, [binding_of(AOR)])
    store.take_changes()
    list(store.snapshot())
    assert store.take_changes() == []
    assert calls.count == 1


def test_snapshot_fills_a_fresh_copy() -> None:
    source, _, _ = replica()
    for n in range(1, 8):
        source.replace(aor(n), [binding_of(aor(n), source=Peer("tcp", "10.1.2.3", 5060, 4))])
    target, local, calls = replica()
    for batch in source.snapshot(batch=3):
        target.apply_snapshot(batch)
    assert sorted(local.all_bindings(), key=lambda b: b.aor) == sorted(
        source.all_bindings(), key=lambda b: b.aor
    )
    assert target.take_changes() == []
    assert calls.count == 0


def test_apply_snapshot_skips_aors_set_live_until_it_ends() -> None:
    target, local, _ = replica()
    newer = binding_of(AOR, "10.1.2.7", cseq=9)
    target.apply([(AOR, [newer]), (aor(5), [])])
    stale = [(AOR, (binding_of(AOR),)), (aor(5), (binding_of(aor(5)),))]
    target.apply_snapshot(stale + [(OTHER, (binding_of(OTHER),))])
    assert local.get(AOR) == (newer,)
    assert local.get(aor(5)) == ()  # removed live, not brought back by the snapshot
    assert local.get(OTHER) == (binding_of(OTHER),)
    target.apply_snapshot([])  # the end
    # After the end, live changes are plain changes again.
    target.apply([(aor(6), [binding_of(aor(6))])])
    assert local.get(aor(6)) == (binding_of(aor(6)),)


def test_live_change_between_snapshot_batches_is_kept() -> None:
    source, _, _ = replica()
    for n in range(1, 5):
        source.replace(aor(n), [binding_of(aor(n))])
    target, local, _ = replica()
    batches = list(source.snapshot(batch=2))
    target.apply_snapshot(batches[0])
    newer = dataclasses.replace(binding_of(aor(3)), cseq=99)
    target.apply([(aor(3), [newer])])
    for batch in batches[1:]:
        target.apply_snapshot(batch)
    assert local.get(aor(3)) == (newer,)
    assert local.get(aor(4)) == (binding_of(aor(4)),)
    assert local.count() == 4


def test_apply_snapshot_skips_aors_this_worker_changed_since_it_started() -> None:
    target, local, _ = replica()
    newer = binding_of(AOR, "10.1.2.7", cseq=9)
    target.replace(AOR, [newer])
    target.apply_snapshot([(AOR, (binding_of(AOR),))])
    assert local.get(AOR) == (newer,)


def test_snapshot_is_received_once_its_empty_last_batch_arrives() -> None:
    source, _, _ = replica()
    source.replace(AOR, [binding_of(AOR)])
    target, _, _ = replica()
    batches = list(source.snapshot())
    assert not target.snapshot_received
    target.apply_snapshot(batches[0])
    assert not target.snapshot_received
    target.apply_snapshot(batches[1])
    assert target.snapshot_received

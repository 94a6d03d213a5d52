"""The BindingStore contract, run against every store.

Stores: memory, SQL on SQLite and on PostgreSQL, Redis, and the write-behind persistent
store. Covered: get/replace/by_gruu/purge_expired/all_bindings/count, replacing and
removing an AOR's set, refreshing a binding in place, every field surviving a round
trip (non-ASCII, IPv6, Path, GRUU), purging only what expired, and writes crossing the
SQL store's batch boundaries. Not covered here: persistence across restarts and the
flush cycle (test_persistent_store.py), the schema migration
(test_registration_migration.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from pathlib import Path

import pytest
from binding_samples import AOR, INSTANCE, NOW, full_binding, make_binding
from sqlalchemy import event

from dialplan.storage import create_database_engine
from voip_core.registrar import Binding, BindingStore, MemoryBindingStore
from voip_core.sip.peer import Peer
from voip_core.storage import SqlBindingStore
from voip_core.storage.models import metadata


def by_contact(bindings: tuple[Binding, ...] | list[Binding]) -> list[Binding]:
    return sorted(bindings, key=lambda binding: (binding.aor, binding.contact))


def test_empty_store(store: BindingStore) -> None:
    assert store.get(AOR) == ()
    assert store.by_gruu(AOR, INSTANCE) == ()
    assert store.count() == 0
    assert list(store.all_bindings()) == []
    assert store.purge_expired(NOW) == 0


def test_replace_then_get(store: BindingStore) -> None:
    first = make_binding()
    second = make_binding(contact="sip:8001@10.1.2.99:5062", cseq=1, call_id="other")
    store.replace(AOR, [first, second])
    assert by_contact(store.get(AOR)) == by_contact([first, second])
    assert store.count() == 2


def test_every_field_round_trips(store: BindingStore) -> None:
    binding = full_binding()
    store.replace(AOR, [binding])
    assert store.get(AOR) == (binding,)


def test_replace_is_the_complete_set(store: BindingStore) -> None:
    store.replace(AOR, [make_binding(), make_binding(contact="sip:8001@10.9.9.9")])
    kept = make_binding(contact="sip:8001@10.9.9.9", cseq=8, expires_at=NOW + 7200)
    store.replace(AOR, [kept])
    assert store.get(AOR) == (kept,)
    assert store.count() == 1


def test_refresh_updates_the_binding(store: BindingStore) -> None:
    store.replace(AOR, [make_binding()])
    refreshed = make_binding(cseq=8, expires_at=NOW + 5000, temp_gruu="sip:tgruu.x@xiayi.gov.cn;gr")
    store.replace(AOR, [refreshed])
    assert store.get(AOR) == (refreshed,)
    assert store.count() == 1


def test_empty_replace_removes_the_aor(store: BindingStore) -> None:
    store.replace(AOR, [make_binding()])
    store.replace(AOR, [])
    assert store.get(AOR) == ()
    assert store.count() == 0
    assert list(store.all_bindings()) == []
    store.replace(AOR, [])
    assert store.count() == 0


def test_aors_are_independent(store: BindingStore) -> None:
    other = "sip:8002@xiayi.gov.cn"
    store.replace(AOR, [make_binding()])
    store.replace(other, [make_binding(other, "sip:8002@10.1.2.4")])
    store.replace(AOR, [])
    assert store.get(other) == (make_binding(other, "sip:8002@10.1.2.4"),)


def test_by_gruu_selects_the_instance(store: BindingStore) -> None:
    with_instance = make_binding(instance_id=INSTANCE, reg_id=1)
    other_instance = make_binding(contact="sip:8001@10.1.2.5", instance_id="urn:uuid:other")
    store.replace(AOR, [with_instance, other_instance, make_binding(contact="sip:8001@10.1.2.6")])
    assert store.by_gruu(AOR, INSTANCE) == (with_instance,)
    assert store.by_gruu("sip:nobody@xiayi.gov.cn", INSTANCE) == ()


def test_purge_removes_only_expired_bindings(store: BindingStore) -> None:
    short = make_binding(contact="sip:8001@10.1.2.7", expires_at=NOW + 60)
    long = make_binding(expires_at=NOW + 3600)
    other = "sip:8002@xiayi.gov.cn"
    store.replace(AOR, [short, long])
    store.replace(other, [make_binding(other, "sip:8002@10.1.2.4", expires_at=NOW + 30)])
    assert store.purge_expired(NOW + 29) == 0
    assert store.purge_expired(NOW + 60) == 2
    assert store.get(AOR) == (long,)
    assert store.get(other) == ()
    assert store.count() == 1
    assert store.purge_expired(NOW + 60) == 0
    assert store.purge_expired(NOW + 3600) == 1
    assert store.count() == 0


def test_purge_skips_bindings_refreshed_since(store: BindingStore) -> None:
    store.replace(AOR, [make_binding(expires_at=NOW + 60)])
    store.replace(AOR, [make_binding(cseq=8, expires_at=NOW + 600)])
    assert store.purge_expired(NOW + 60) == 0
    assert store.count() == 1
    assert store.purge_expired(NOW + 600) == 1


def test_purge_after_an_earlier_expiry_is_set(store: BindingStore) -> None:
    store.replace(AOR, [make_binding(expires_at=NOW + 600)])
    store.replace(AOR, [make_binding(cseq=8, expires_at=NOW + 60)])
    assert store.purge_expired(NOW + 60) == 1


def test_all_bindings_spans_every_aor(store: BindingStore) -> None:
    expected = []
    for number in range(8001, 8011):
        aor = f"sip:{number}@xiayi.gov.cn"
        bindings = [make_binding(aor, f"sip:{number}@10.1.{i}.1") for i in range(2)]
        store.replace(aor, bindings)
        expected.extend(bindings)
    assert by_contact(list(store.all_bindings())) == by_contact(expected)
    assert store.count() == 20


def test_binding_for_another_aor_is_refused(store: BindingStore) -> None:
    with pytest.raises(
        ValueError, match="binding of 'sip:8001@xiayi.gov.cn' given for 'sip:8002@xiayi.gov.cn'"
    ):
        store.replace("sip:8002@xiayi.gov.cn", [make_binding()])


def test_unicode_aor(store: BindingStore) -> None:
    aor = "sip:值班室@xiayi.gov.cn"
    binding = make_binding(aor, "sip:%E5%80%BC@10.1.2.3")
    store.replace(aor, [binding])
    assert store.get(aor) == (binding,)
    assert list(store.all_bindings()) == [binding]


def test_memory_store_keeps_the_connection_id() -> None:
    store = MemoryBindingStore()
    binding = make_binding(source=Peer("tcp", "10.1.2.3", 40000, connection_id=9))
    store.replace(AOR, [binding])
    assert store.get(AOR)[0].source.connection_id == 9
    assert store.aors() == [AOR]
    store.clear()
    assert store.count() == 0
    assert store.get(AOR) == ()


def test_durable_stores_drop_the_connection_id(store: BindingStore) -> None:
    binding = make_binding(source=Peer("tcp", "10.1.2.3", 40000, connection_id=9))
    store.replace(AOR, [binding])
    restored = store.get(AOR)[0]
    if isinstance(store, MemoryBindingStore) or type(store).__name__ == "PersistentBindingStore":
        assert restored == binding
    else:
        assert restored == dataclasses.replace(binding, source=Peer("tcp", "10.1.2.3", 40000))


def test_sql_store_pages_through_many_rows(
    sql_engine: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import voip_core.storage.sql_store as sql_store

    monkeypatch.setattr(sql_store, "_PAGE_SIZE", 4)
    store = SqlBindingStore(sql_engine, batch_size=2)  # type: ignore[arg-type]
    changes = {
        f"sip:{n}@xiayi.gov.cn": [
            make_binding(f"sip:{n}@xiayi.gov.cn", f"sip:{n}@10.0.0.{i}") for i in range(3)
        ]
        for n in range(9)
    }
    store.replace_many(changes)
    assert store.count() == 27
    assert len(list(store.all_bindings())) == 27
    assert sorted(store.aors()) == sorted(changes)
    assert len(list(store.unexpired(NOW + 3600))) == 0


def test_sql_store_refuses_a_zero_batch_size(sql_engine: object) -> None:
    with pytest.raises(ValueError, match="batch_size 0 must be at least 1"):
        SqlBindingStore(sql_engine, batch_size=0)  # type: ignore[arg-type]


def test_sqlite_replace_survives_a_commit_between_its_read_and_its_write(
    tmp_path: Path,
) -> None:
    # Found by the integration tests: the admin API committed a plan change while the
    # write-behind flush was between its SELECT and its upsert, and the flush failed
    # with "database is locked" (SQLITE_BUSY_SNAPSHOT) at once.
    path = tmp_path / "ronghe.db"
    engine = create_database_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    store = SqlBindingStore(engine)
    store.replace(AOR, [make_binding()])
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA busy_timeout = 0")
    other.execute("CREATE TABLE other_writer (x INTEGER)")

    def commit_elsewhere(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            # Succeeds unless the store already holds the write lock, as it should.
            with contextlib.suppress(sqlite3.OperationalError):
                other.execute("INSERT INTO other_writer VALUES (1)")

    event.listen(engine, "after_cursor_execute", commit_elsewhere)
    try:
        refreshed = make_binding(cseq=9)
        store.replace(AOR, [refreshed])
    finally:
        event.remove(engine, "after_cursor_execute", commit_elsewhere)
        other.close()
        engine.dispose()
    assert SqlBindingStore(create_database_engine(f"sqlite:///{path}")).get(AOR) == (refreshed,)

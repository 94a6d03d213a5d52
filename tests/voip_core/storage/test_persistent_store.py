"""Persistence of registrations across restarts, on SQLite, PostgreSQL and Redis.

Covered: the write-behind store keeps SQL untouched until ``flush``, then writes every
changed AOR in one batch; a new process (a new store on the same database) restores the
unexpired bindings with ``load`` and leaves out the expired ones; purges reach SQL at
the next flush; a failed flush keeps its AORs pending; flushing from a worker thread
while the event loop writes loses nothing. The SQL and Redis stores keep bindings
across a store restart on their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence

import pytest
import redis
from binding_samples import AOR, NOW, full_binding, make_binding
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from voip_core.registrar import Binding, MemoryBindingStore
from voip_core.storage import (
    PersistentBindingStore,
    RedisBindingStore,
    SqlBindingStore,
    flush_periodically,
)


def test_writes_reach_sql_only_when_flushed(sql_engine: Engine) -> None:
    sql = SqlBindingStore(sql_engine)
    store = PersistentBindingStore(sql)
    store.replace(AOR, [make_binding()])
    assert store.get(AOR) == (make_binding(),)
    assert sql.get(AOR) == ()
    assert store.pending == 1
    assert store.flush() == 1
    assert sql.get(AOR) == (make_binding(),)
    assert store.pending == 0
    assert store.flush() == 0


def test_restart_restores_unexpired_bindings(sql_engine: Engine) -> None:
    before = PersistentBindingStore(SqlBindingStore(sql_engine))
    other = "sip:8002@xiayi.gov.cn"
    before.replace(
        AOR, [full_binding(), make_binding(contact="sip:8001@10.9.9.9", expires_at=NOW + 30)]
    )
    before.replace(other, [make_binding(other, "sip:8002@10.1.2.4")])
    before.flush()

    after = PersistentBindingStore(SqlBindingStore(sql_engine))  # a new process
    assert after.load(NOW + 60) == 2
    assert after.get(AOR) == (full_binding(),)
    assert after.get(other) == (make_binding(other, "sip:8002@10.1.2.4"),)
    assert after.count() == 2
    assert after.pending == 0


def test_load_replaces_what_memory_held(sql_engine: Engine) -> None:
    memory = MemoryBindingStore()
    memory.replace("sip:stale@xiayi.gov.cn", [make_binding("sip:stale@xiayi.gov.cn")])
    store = PersistentBindingStore(SqlBindingStore(sql_engine), memory)
    assert store.load(NOW) == 0
    assert store.count() == 0


def test_unregistration_and_purge_reach_sql(sql_engine: Engine) -> None:
    sql = SqlBindingStore(sql_engine)
    store = PersistentBindingStore(sql)
    other = "sip:8002@xiayi.gov.cn"
    store.replace(AOR, [make_binding(expires_at=NOW + 60)])
    store.replace(other, [make_binding(other, "sip:8002@10.1.2.4")])
    store.flush()
    store.replace(other, [])
    assert store.purge_expired(NOW + 60) == 1
    assert store.purge_expired(NOW + 30) == 0  # an earlier purge time does not win
    assert sql.count() == 2
    store.flush()
    assert sql.count() == 0
    assert list(store.all_bindings()) == []


class FailingSql(SqlBindingStore):
    """Fails the first ``failures`` writes, like a database that went away."""

    def __init__(self, engine: Engine, failures: int) -> None:
        super().__init__(engine)
        self.failures = failures

    def replace_many(self, changes: Mapping[str, Sequence[Binding]]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database unavailable")
        super().replace_many(changes)


def test_failed_flush_keeps_aors_pending(sql_engine: Engine) -> None:
    sql = FailingSql(sql_engine, failures=1)
    store = PersistentBindingStore(sql)
    store.replace(AOR, [make_binding(expires_at=NOW + 10)])
    store.purge_expired(NOW)
    with pytest.raises(ConnectionError, match="database unavailable"):
        store.flush()
    assert store.pending == 1
    store.replace("sip:8002@xiayi.gov.cn", [make_binding("sip:8002@xiayi.gov.cn")])
    assert store.flush() == 2
    assert sql.count() == 2


def test_failed_purge_is_retried(sql_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    sql = SqlBindingStore(sql_engine)
    store = PersistentBindingStore(sql)
    store.replace(AOR, [make_binding(expires_at=NOW + 10)])
    store.flush()
    store.purge_expired(NOW + 10)
    calls: list[float] = []

    def failing_purge(now: float) -> int:
        calls.append(now)
        raise ConnectionError("database unavailable")

    monkeypatch.setattr(sql, "purge_expired", failing_purge)
    with pytest.raises(ConnectionError):
        store.flush()
    store.purge_expired(NOW + 5)  # later call with an earlier time keeps the later one
    monkeypatch.undo()
    store.flush()
    assert calls == [NOW + 10]
    assert sql.count() == 0


def test_flush_from_a_worker_thread_while_writing(sql_engine: Engine) -> None:
    sql = SqlBindingStore(sql_engine)
    store = PersistentBindingStore(sql)
    stop = threading.Event()

    async def main() -> None:
        async def flusher() -> None:
            while not stop.is_set():
                await asyncio.to_thread(store.flush)
                await asyncio.sleep(0.001)

        task = asyncio.create_task(flusher())
        for cseq in range(1, 201):
            aor = f"sip:{8000 + cseq % 20}@xiayi.gov.cn"
            store.replace(aor, [make_binding(aor, f"sip:x@10.0.0.{cseq % 20}", cseq=cseq)])
            if cseq % 10 == 0:
                await asyncio.sleep(0)
        stop.set()
        await task

    asyncio.run(main())
    store.flush()
    assert sorted(sql.all_bindings(), key=lambda b: b.aor) == sorted(
        store.all_bindings(), key=lambda b: b.aor
    )
    assert sql.count() == 20


def test_sql_store_survives_a_restart(sql_engine: Engine) -> None:
    SqlBindingStore(sql_engine).replace(AOR, [full_binding()])
    assert SqlBindingStore(sql_engine).get(AOR) == (full_binding(),)


def test_redis_store_survives_a_restart(redis_client: redis.Redis, redis_prefix: str) -> None:
    first = RedisBindingStore(redis_client, prefix=redis_prefix)
    try:
        first.replace(AOR, [full_binding()])
        second = RedisBindingStore(redis_client, prefix=redis_prefix)
        assert second.get(AOR) == (full_binding(),)
        assert second.count() == 1
    finally:
        first.clear()


def test_periodic_flush_writes_behind_and_flushes_on_shutdown(sql_engine: Engine) -> None:
    sql = SqlBindingStore(sql_engine)
    store = PersistentBindingStore(sql)

    async def main() -> None:
        task = asyncio.create_task(flush_periodically(store, interval=0.01))
        store.replace(AOR, [make_binding()])
        for _ in range(200):
            await asyncio.sleep(0.01)
            if sql.count():
                break
        assert sql.get(AOR) == (make_binding(),)
        store.replace(AOR, [])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert sql.count() == 0


def test_periodic_flush_survives_database_errors(
    sql_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    sql = SqlBindingStore(sql_engine)
    store = PersistentBindingStore(sql)
    failures = [OperationalError("INSERT", {}, Exception("database is locked"))]
    real_replace_many = sql.replace_many

    def flaky(changes: Mapping[str, Sequence[Binding]]) -> None:
        if failures:
            raise failures.pop()
        real_replace_many(changes)

    sql.replace_many = flaky  # type: ignore[method-assign]

    async def main() -> None:
        task = asyncio.create_task(flush_periodically(store, interval=0.01))
        store.replace(AOR, [make_binding()])
        for _ in range(200):
            await asyncio.sleep(0.01)
            if store.pending == 0 and not failures:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert sql.get(AOR) == (make_binding(),)
    assert (
        "writing registrations failed ((builtins.Exception) database is locked); "
        "1 AORs kept pending, retry in 0.0 s" in caplog.text
    )

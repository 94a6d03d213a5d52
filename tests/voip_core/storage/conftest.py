"""Fixtures of the binding-store tests: SQLite, PostgreSQL and Redis backends.

PostgreSQL: one fresh database per session, created through the ``test`` database and
dropped at the end; each test empties the table. Redis: database 9 (override with
``RONGHE_TEST_REDIS_URL``) under a random key prefix, deleted after each test. A
backend that does not answer is skipped locally and fails under ``CI=true``, where
both always run.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import Engine, create_engine, delete

from voip_core.registrar import BindingStore, MemoryBindingStore
from voip_core.storage import PersistentBindingStore, RedisBindingStore, SqlBindingStore
from voip_core.storage.models import RegistrationBinding, metadata

POSTGRES_ADMIN_DSN = os.environ.get(
    "RONGHE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("RONGHE_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")

#: Small enough that the contract tests cross the SQL store's chunk boundaries.
SQL_TEST_BATCH_SIZE = 3


def _unavailable(what: str, error: Exception) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} must be reachable under CI=true: {error}")
    pytest.skip(f"{what} not reachable: {error}")


def create_postgres_database() -> tuple[str, str]:
    """A fresh, empty PostgreSQL database: ``(name, SQLAlchemy URL)``."""
    name = f"ronghe_bindings_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True, connect_timeout=3) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def drop_postgres_database(name: str) -> None:
    """Drop a database made by :func:`create_postgres_database`."""
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def fresh_postgres_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh PostgreSQL databases, all dropped at the end of the session."""
    created: list[str] = []

    def make() -> str:
        try:
            name, url = create_postgres_database()
        except psycopg.OperationalError as error:
            _unavailable("PostgreSQL", error)
            raise
        created.append(name)
        return url

    yield make
    for name in created:
        drop_postgres_database(name)


@pytest.fixture(scope="session")
def postgres_engine(fresh_postgres_database: Callable[[], str]) -> Iterator[Engine]:
    """An engine on a session-wide PostgreSQL database with the registration table."""
    engine = create_engine(fresh_postgres_database())
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine with an empty registration table, on each SQL backend."""
    if request.param == "sqlite":
        engine = _sqlite_engine(tmp_path / "bindings.db")
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("postgres_engine")
    yield engine
    with engine.begin() as connection:
        connection.execute(delete(RegistrationBinding))


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """A Redis client on the test database."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as error:
        _unavailable("Redis", error)
    yield client
    client.close()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses."""
    return f"ronghe-test:{secrets.token_hex(6)}:"


@pytest.fixture
def redis_store(redis_client: redis.Redis, redis_prefix: str) -> Iterator[RedisBindingStore]:
    """A Redis store whose keys are deleted afterwards."""
    store = RedisBindingStore(redis_client, prefix=redis_prefix)
    yield store
    store.clear()


@pytest.fixture(params=["memory", "sqlite", "postgresql", "redis", "persistent"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BindingStore]:
    """Each binding store, empty."""
    kind: str = request.param
    if kind == "memory":
        yield MemoryBindingStore()
    elif kind == "sqlite":
        engine = _sqlite_engine(tmp_path / "bindings.db")
        yield SqlBindingStore(engine, batch_size=SQL_TEST_BATCH_SIZE)
        engine.dispose()
    elif kind == "postgresql":
        engine = request.getfixturevalue("postgres_engine")
        yield SqlBindingStore(engine, batch_size=SQL_TEST_BATCH_SIZE)
        with engine.begin() as connection:
            connection.execute(delete(RegistrationBinding))
    elif kind == "redis":
        yield request.getfixturevalue("redis_store")
    else:
        engine = _sqlite_engine(tmp_path / "bindings.db")
        yield PersistentBindingStore(SqlBindingStore(engine))
        engine.dispose()

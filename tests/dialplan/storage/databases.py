"""Database fixtures: every storage and API test runs on SQLite and on PostgreSQL.

SQLite: the schema is migrated once per session into a template file, which each test
copies. PostgreSQL: one fresh database ``ronghe_test_<random>`` per session, created
through the ``test`` database, migrated with ``upgrade_to_head`` and dropped at the
end; each test empties the tables afterwards. Without a reachable PostgreSQL the
PostgreSQL cases are skipped, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from dialplan.storage.base import Base
from dialplan.storage.database import create_database_engine, create_session_factory
from dialplan.storage.migrate import upgrade_to_head

__all__ = [
    "BACKENDS",
    "POSTGRES_ADMIN_DSN",
    "create_postgres_database",
    "drop_postgres_database",
    "postgres_available",
]

BACKENDS: Final = ("sqlite", "postgresql")
#: The server and maintenance database the tests create their databases through.
POSTGRES_ADMIN_DSN: Final = "postgresql://postgres@127.0.0.1:5432/test"
_POSTGRES_URL: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def postgres_available() -> bool:
    """Whether the test PostgreSQL answers; under CI it must."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_DSN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            raise
        return False


def create_postgres_database() -> tuple[str, str]:
    """Create an empty database with a random name; return ``(name, SQLAlchemy URL)``."""
    name = f"ronghe_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name, _POSTGRES_URL.format(name=name)


def drop_postgres_database(name: str) -> None:
    """Drop a database made by :func:`create_postgres_database`, closing its sessions."""
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, copied by each test."""
    path = tmp_path_factory.mktemp("template") / "ronghe.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A session-wide PostgreSQL database migrated to head."""
    if not postgres_available():
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    name, url = create_postgres_database()
    try:
        upgrade_to_head(url)
        yield url
    finally:
        drop_postgres_database(name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ronghe.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    _empty_postgres(url)


def _empty_postgres(url: str) -> None:
    engine = create_database_engine(url)
    try:
        names = ", ".join(table.name for table in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database."""
    engine = create_database_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory on the test database."""
    return create_session_factory(engine)

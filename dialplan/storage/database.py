"""Engine and session factory from a database URL.

SQLite is the embedded default. Each SQLite connection gets foreign keys on, WAL
journaling (readers, such as the SIP process polling ``plan_state``, never block the
writer) and a busy timeout. The pysqlite driver's own transaction handling is turned
off so that SQLAlchemy emits ``BEGIN`` itself: otherwise SELECTs would run outside the
transaction and SAVEPOINTs would not work, as the SQLAlchemy SQLite dialect notes
("Serializable isolation / Savepoints / Transactional DDL") describe.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SQLITE_BUSY_TIMEOUT_MS",
    "create_database_engine",
    "create_session_factory",
]

#: The embedded default: a SQLite file in the working directory.
DEFAULT_DATABASE_URL: Final = "sqlite:///ronghe.db"

#: How long a SQLite writer waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_MS: Final = 5000


def create_database_engine(url: str, *, foreign_keys: bool = True) -> Engine:
    """Return an engine for ``url``, with the SQLite connection settings applied.

    ``foreign_keys=False`` is for migrations only: SQLite batch mode recreates tables
    that other tables reference.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    engine = create_engine(parsed, connect_args={"check_same_thread": False})

    def configure(dbapi_connection: object, connection_record: ConnectionPoolEntry) -> None:
        _configure_sqlite_connection(dbapi_connection, foreign_keys=foreign_keys)

    event.listen(engine, "connect", configure)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory the services are given.

    Objects are not expired at commit: services convert them to records after the
    commit that assigned their final version.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


def _configure_sqlite_connection(dbapi_connection: object, *, foreign_keys: bool) -> None:
    # The pool hands us the raw DBAPI connection; for this dialect a sqlite3.Connection.
    assert isinstance(dbapi_connection, sqlite3.Connection)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")

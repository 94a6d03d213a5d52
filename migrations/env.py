"""Alembic environment: one migration history for the whole Ronghe schema.

The database URL is taken, first found wins, from: a connection handed over by
:func:`dialplan.storage.migrate.upgrade_to_head` (``config.attributes["connection"]``),
``-x database_url=...`` on the alembic command line, ``sqlalchemy.url`` set
programmatically, and finally the settings every ``ronghe`` command reads
(:class:`ronghe.settings.CommonSettings`: ``RONGHE_DATABASE_URL``, else the embedded
``sqlite:///ronghe.db``).

``target_metadata`` lists the numbering-plan metadata and, once the SIP core has its
registration table, ``voip_core.storage.models.metadata``, so autogenerate compares
the whole schema.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

import dialplan.storage.models  # noqa: F401  - registers the plan tables on Base.metadata
from dialplan.storage.base import Base
from dialplan.storage.database import create_database_engine
from ronghe.settings import CommonSettings

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _target_metadata() -> list[MetaData]:
    metadata = [Base.metadata]
    try:
        from voip_core.storage.models import metadata as registration_metadata
    except ModuleNotFoundError as error:
        # Only "the SIP core has no storage models yet" is expected; a missing
        # dependency inside that module is a real error.
        if error.name not in {"voip_core", "voip_core.storage", "voip_core.storage.models"}:
            raise
    else:
        metadata.append(registration_metadata)
    return metadata


target_metadata = _target_metadata()


def _database_url() -> str:
    x_arguments = context.get_x_argument(as_dictionary=True)
    url = (
        x_arguments.get("database_url")
        or config.get_main_option("sqlalchemy.url")
        or CommonSettings().database_url
    )
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # Our SQLite engine emits BEGIN itself (dialplan.storage.database), so DDL
        # there is transactional too: a failed revision leaves no half-built schema.
        transactional_ddl=True,
    )


def run_migrations_offline() -> None:
    """Emit the migration SQL for ``_database_url()``'s dialect without connecting."""
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live connection, in one transaction."""
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Foreign keys stay off on SQLite while migrating: batch mode drops and recreates
    # tables that other tables reference (Alembic "batch mode" documentation).
    engine = create_database_engine(_database_url(), foreign_keys=False)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""Database options shared by the plan and apikey subcommands."""

from __future__ import annotations

import argparse
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from dialplan.storage.database import (
    DEFAULT_DATABASE_URL,
    create_database_engine,
    create_session_factory,
)
from dialplan.storage.migrate import upgrade_to_head
from dialplan.storage.records import Actor

__all__ = ["CLI_ACTOR", "add_database_option", "open_database"]

#: Audit-log author of changes made from the command line.
CLI_ACTOR: Final = Actor(name="cli")


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--database-url`` (default: the embedded SQLite file)."""
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help=f"SQLAlchemy URL (default {DEFAULT_DATABASE_URL}; postgresql+psycopg://...)",
    )


def open_database(url: str) -> sessionmaker[Session]:
    """Migrate the database at ``url`` to the newest schema and return a session factory."""
    upgrade_to_head(url)
    return create_session_factory(create_database_engine(url))

"""The database of the plan and apikey subcommands."""

from __future__ import annotations

from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from dialplan.storage.database import create_database_engine, create_session_factory
from dialplan.storage.migrate import upgrade_to_head
from dialplan.storage.records import Actor

__all__ = ["CLI_ACTOR", "open_database"]

#: Audit-log author of changes made from the command line.
CLI_ACTOR: Final = Actor(name="cli")


def open_database(url: str) -> sessionmaker[Session]:
    """Migrate the database at ``url`` to the newest schema and return a session factory."""
    upgrade_to_head(url)
    return create_session_factory(create_database_engine(url))

"""The numbering plan as a whole: its version and its rows for the compiler."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from dialplan.model import PlanRows
from dialplan.storage.loader import load_plan_rows, read_plan_version

__all__ = ["current_plan_version", "read_plan"]


def current_plan_version(session_factory: sessionmaker[Session]) -> int:
    """Return ``plan_state.version`` (0 before the first write); cheap enough to poll."""
    with session_factory() as session, session.begin():
        return read_plan_version(session)


def read_plan(session_factory: sessionmaker[Session], *, realm: str) -> PlanRows:
    """Return the committed plan as one consistent snapshot of rows."""
    with session_factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            # READ COMMITTED would let each SELECT see a different commit.
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return load_plan_rows(session, realm)

"""The unit of work every numbering-plan write runs in.

Theory of operation: :func:`plan_write` opens the transaction and first increments
``plan_state.version``. That UPDATE takes the row's write lock (PostgreSQL) or the
database write lock (SQLite), so plan writes are serialised: the conflict checks the
service then makes cannot race another writer. When the service's block ends, the
changes are flushed, the would-be plan is loaded *inside* the transaction and given to
``compile_plan``; if the compiler refuses it the whole transaction rolls back and
:class:`PlanRejected` carries the compiler's problems. Otherwise the audit rows are
written and the transaction commits, so a reader that sees the new version also sees
the new plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Final

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialplan.engine import PlanError, compile_plan
from dialplan.storage.base import Base, utc_now
from dialplan.storage.exceptions import Conflict, PlanRejected, PreconditionFailed
from dialplan.storage.loader import load_plan_rows
from dialplan.storage.models import AuditLog, PlanState
from dialplan.storage.records import Actor, JsonObject, JsonValue

__all__ = ["PlanWrite", "check_version", "plan_write", "snapshot"]

#: Columns that are secrets (or password-equivalent) and never go into the audit log.
_SECRET_COLUMNS: Final = frozenset({"ha1_md5", "ha1_sha256", "key_hash"})


@dataclass(slots=True)
class PlanWrite:
    """Handle a service uses inside :func:`plan_write` to record what it changed."""

    session: Session
    actor: Actor
    at: datetime
    entries: list[AuditLog] = field(default_factory=list)

    def record(
        self,
        action: str,
        object_kind: str,
        object_id: str,
        *,
        before: JsonObject | None,
        after: JsonObject | None,
    ) -> None:
        """Queue an audit row; it is written just before the commit."""
        self.entries.append(
            AuditLog(
                at=self.at,
                api_key_id=self.actor.api_key_id,
                api_key_name=self.actor.name,
                action=action,
                object_kind=object_kind,
                object_id=object_id,
                before=before,
                after=after,
            )
        )


@contextmanager
def plan_write(
    session: Session, *, actor: Actor, realm: str, commit: bool = True
) -> Iterator[PlanWrite]:
    """Run one plan write: lock and bump the version, yield, compile, audit, commit.

    With ``commit=False`` everything is checked (including the compiler) and then
    rolled back: the dry run of a CSV import.
    """
    transaction = session.begin()
    try:
        at = utc_now()
        _bump_plan_version(session, at)
        write = PlanWrite(session=session, actor=actor, at=at)
        yield write
        try:
            session.flush()
        except IntegrityError as error:
            raise Conflict(f"the change conflicts with existing data: {error.orig}") from error
        try:
            compile_plan(load_plan_rows(session, realm))
        except PlanError as error:
            raise PlanRejected(tuple(error.problems)) from error
        session.add_all(write.entries)
        session.flush()
    except BaseException:
        transaction.rollback()
        raise
    if commit:
        transaction.commit()
    else:
        transaction.rollback()


def _bump_plan_version(session: Session, at: datetime) -> None:
    bumped = session.execute(
        update(PlanState)
        .where(PlanState.id == 1)
        .values(version=PlanState.version + 1, changed_at=at)
        .execution_options(synchronize_session=False)
    )
    if bumped.rowcount:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        return
    # First write ever: create the single row. Two first writers may race on
    # PostgreSQL; the loser's savepoint fails on the primary key and it bumps instead.
    try:
        with session.begin_nested():
            session.add(PlanState(id=1, version=1, changed_at=at))
    except IntegrityError:
        _bump_plan_version(session, at)


def check_version(description: str, current: int, expected: int | None) -> None:
    """Raise :class:`PreconditionFailed` unless ``expected`` is ``None`` or ``current``."""
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"{description} has version {current}, not {expected}; reload it and retry",
            current_version=current,
        )


def snapshot(obj: Base) -> JsonObject:
    """Return the object's columns as JSON values for the audit log, without secrets."""
    result: JsonObject = {}
    for column in obj.__table__.columns:
        if column.key in _SECRET_COLUMNS:
            continue
        result[column.key] = _json_value(getattr(obj, column.key))
    return result


def _json_value(value: object) -> JsonValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Enum):
        return _json_value(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(item) for item in value]
    return str(value)

"""The audit log: read-only listing of who changed what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.storage import repositories
from dialplan.storage.models import AuditLog
from dialplan.storage.records import AuditRecord, Page
from dialplan.storage.services._convert import audit_record

__all__ = ["AuditFilter", "list_audit_log"]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Listing filters; ``None`` means "any". ``since`` is inclusive, ``until`` exclusive."""

    object_kind: str | None = None
    object_id: str | None = None
    action: str | None = None
    api_key_name: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_audit_log(
    session: Session, *, filters: AuditFilter | None = None, skip: int = 0, limit: int = 100
) -> Page[AuditRecord]:
    """Return a page of audit entries, newest first."""
    filters = filters or AuditFilter()
    statement = select(AuditLog).order_by(AuditLog.id.desc())
    if filters.object_kind is not None:
        statement = statement.where(AuditLog.object_kind == filters.object_kind)
    if filters.object_id is not None:
        statement = statement.where(AuditLog.object_id == filters.object_id)
    if filters.action is not None:
        statement = statement.where(AuditLog.action == filters.action)
    if filters.api_key_name is not None:
        statement = statement.where(AuditLog.api_key_name == filters.api_key_name)
    if filters.since is not None:
        statement = statement.where(AuditLog.at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AuditLog.at < filters.until)
    with session.begin():
        rows, count = repositories.page(session, statement, skip=skip, limit=limit)
        return Page(items=tuple(audit_record(row) for row in rows), count=count)

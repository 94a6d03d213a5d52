"""``/audit-log``: who changed what, with the object before and after."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from api.deps import PageDep, SessionDep, ViewerKey
from api.routers._common import ERROR_RESPONSES
from api.schemas import AuditEntriesPublic, AuditEntryPublic
from dialplan.storage.services import audit
from dialplan.storage.services.audit import AuditFilter

__all__ = ["router"]

router = APIRouter(prefix="/audit-log", tags=["audit log"], responses=ERROR_RESPONSES)

Word = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


@router.get("")
def list_audit_log(
    session: SessionDep,
    key: ViewerKey,
    page: PageDep,
    object_kind: Word = None,
    object_id: Word = None,
    action: Word = None,
    api_key_name: Annotated[
        str | None, Query(max_length=100, pattern=r"^[^\x00-\x1F\x7F]*$")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="Inclusive, with offset")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Exclusive, with offset")] = None,
) -> AuditEntriesPublic:
    """List audit entries, newest first, filtered by object, action, key and time."""
    filters = AuditFilter(
        object_kind=object_kind,
        object_id=object_id,
        action=action,
        api_key_name=api_key_name,
        since=since,
        until=until,
    )
    result = audit.list_audit_log(session, filters=filters, skip=page.skip, limit=page.limit)
    return AuditEntriesPublic(
        data=[AuditEntryPublic.from_record(item) for item in result.items], count=result.count
    )

"""``/trunks``: carrier trunks. Reading needs a viewer key, writing an admin key."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Response, status

from api.deps import (
    AdminKey,
    ContextDep,
    IfMatchDep,
    PageDep,
    SessionDep,
    ViewerKey,
    actor_of,
    expected_version,
    notify_plan_changed,
)
from api.routers._common import (
    ERROR_RESPONSES,
    IdPath,
    NameQuery,
    after_write,
    changes_of,
    page_of,
    with_etag,
)
from api.schemas import TrunkCreate, TrunkPublic, TrunksPublic, TrunkUpdate
from dialplan.storage.services import trunks
from dialplan.storage.services.trunks import NewTrunk, TrunkChanges

__all__ = ["router"]

router = APIRouter(prefix="/trunks", tags=["trunks"], responses=ERROR_RESPONSES)


@router.get("")
def list_trunks(
    session: SessionDep, key: ViewerKey, page: PageDep, name: NameQuery = None
) -> TrunksPublic:
    """List trunks in name order."""
    result = trunks.list_trunks(session, name_contains=name, skip=page.skip, limit=page.limit)
    return page_of(TrunksPublic, TrunkPublic, result)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_trunk(
    body: TrunkCreate, session: SessionDep, key: AdminKey, context: ContextDep, response: Response
) -> TrunkPublic:
    """Create a trunk (admin)."""
    record = trunks.create_trunk(
        session, actor=actor_of(key), realm=context.realm, new=NewTrunk(**body.model_dump())
    )
    return after_write(context, response, TrunkPublic, record)


@router.get("/{trunk_id}")
def get_trunk(
    trunk_id: IdPath, session: SessionDep, key: ViewerKey, response: Response
) -> TrunkPublic:
    """Return one trunk."""
    record = trunks.get_trunk(session, trunk_id=trunk_id)
    return with_etag(response, TrunkPublic, record)


@router.patch("/{trunk_id}")
def update_trunk(
    trunk_id: IdPath,
    body: TrunkUpdate,
    session: SessionDep,
    key: AdminKey,
    context: ContextDep,
    if_match: IfMatchDep,
    response: Response,
) -> TrunkPublic:
    """Change a trunk (admin)."""
    record = trunks.update_trunk(
        session,
        actor=actor_of(key),
        realm=context.realm,
        trunk_id=trunk_id,
        changes=cast(TrunkChanges, changes_of(body)),
        expected_version=expected_version(if_match, body.version),
    )
    return after_write(context, response, TrunkPublic, record)


@router.delete("/{trunk_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_trunk(
    trunk_id: IdPath, session: SessionDep, key: AdminKey, context: ContextDep, if_match: IfMatchDep
) -> None:
    """Delete a trunk no dial rule uses (admin)."""
    trunks.delete_trunk(
        session,
        actor=actor_of(key),
        realm=context.realm,
        trunk_id=trunk_id,
        expected_version=if_match,
    )
    notify_plan_changed(context)

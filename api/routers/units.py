"""``/units``: the county tree of organisation units."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Query, Response, status

from api.deps import (
    ContextDep,
    IfMatchDep,
    OperatorKey,
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
    IdQuery,
    NameQuery,
    after_write,
    changes_of,
    page_of,
    with_etag,
)
from api.schemas import UnitCreate, UnitPublic, UnitsPublic, UnitUpdate
from dialplan.model import UnitKind
from dialplan.storage.services import units
from dialplan.storage.services.units import NewUnit, UnitChanges, UnitFilter

__all__ = ["router"]

router = APIRouter(prefix="/units", tags=["units"], responses=ERROR_RESPONSES)


@router.get("")
def list_units(
    session: SessionDep,
    key: ViewerKey,
    page: PageDep,
    parent_id: IdQuery = None,
    kind: Annotated[UnitKind | None, Query()] = None,
    name: NameQuery = None,
    code_prefix: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,32}$")] = None,
) -> UnitsPublic:
    """List units in code order, filtered by parent, kind, name substring, code prefix."""
    filters = UnitFilter(
        parent_id=parent_id, kind=kind, name_contains=name, code_prefix=code_prefix
    )
    result = units.list_units(session, filters=filters, skip=page.skip, limit=page.limit)
    return page_of(UnitsPublic, UnitPublic, result)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_unit(
    body: UnitCreate, session: SessionDep, key: OperatorKey, context: ContextDep, response: Response
) -> UnitPublic:
    """Create a unit; its code must be unused."""
    record = units.create_unit(
        session, actor=actor_of(key), realm=context.realm, new=NewUnit(**body.model_dump())
    )
    return after_write(context, response, UnitPublic, record)


@router.get("/{unit_id}")
def get_unit(
    unit_id: IdPath, session: SessionDep, key: ViewerKey, response: Response
) -> UnitPublic:
    """Return one unit."""
    record = units.get_unit(session, unit_id=unit_id)
    return with_etag(response, UnitPublic, record)


@router.patch("/{unit_id}")
def update_unit(
    unit_id: IdPath,
    body: UnitUpdate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
    response: Response,
) -> UnitPublic:
    """Change a unit; moving it must keep every extension below it inside a block."""
    record = units.update_unit(
        session,
        actor=actor_of(key),
        realm=context.realm,
        unit_id=unit_id,
        changes=cast(UnitChanges, changes_of(body)),
        expected_version=expected_version(if_match, body.version),
    )
    return after_write(context, response, UnitPublic, record)


@router.delete("/{unit_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_unit(
    unit_id: IdPath,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
) -> None:
    """Delete a unit that has no sub-units, blocks, sites, extensions or short numbers."""
    units.delete_unit(
        session,
        actor=actor_of(key),
        realm=context.realm,
        unit_id=unit_id,
        expected_version=if_match,
    )
    notify_plan_changed(context)

"""``/short-numbers``: 6xxxx codes that ring staff mobiles."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Response, status

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
    PrefixQuery,
    after_write,
    changes_of,
    page_of,
    with_etag,
)
from api.schemas import (
    ShortNumberCreate,
    ShortNumberPublic,
    ShortNumbersPublic,
    ShortNumberUpdate,
)
from dialplan.storage.services import short_numbers
from dialplan.storage.services.short_numbers import (
    NewShortNumber,
    ShortNumberChanges,
    ShortNumberFilter,
)

__all__ = ["router"]

router = APIRouter(prefix="/short-numbers", tags=["short numbers"], responses=ERROR_RESPONSES)


@router.get("")
def list_short_numbers(
    session: SessionDep,
    key: ViewerKey,
    page: PageDep,
    unit_id: IdQuery = None,
    number_prefix: PrefixQuery = None,
    name: NameQuery = None,
) -> ShortNumbersPublic:
    """List short numbers in code order, filtered by unit, leading digits, person name."""
    filters = ShortNumberFilter(unit_id=unit_id, code_prefix=number_prefix, name_contains=name)
    result = short_numbers.list_short_numbers(
        session, filters=filters, skip=page.skip, limit=page.limit
    )
    return page_of(ShortNumbersPublic, ShortNumberPublic, result)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_short_number(
    body: ShortNumberCreate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    response: Response,
) -> ShortNumberPublic:
    """Create a short number; its code may not be an extension number."""
    record = short_numbers.create_short_number(
        session, actor=actor_of(key), realm=context.realm, new=NewShortNumber(**body.model_dump())
    )
    return after_write(context, response, ShortNumberPublic, record)


@router.get("/{short_number_id}")
def get_short_number(
    short_number_id: IdPath, session: SessionDep, key: ViewerKey, response: Response
) -> ShortNumberPublic:
    """Return one short number."""
    record = short_numbers.get_short_number(session, short_number_id=short_number_id)
    return with_etag(response, ShortNumberPublic, record)


@router.patch("/{short_number_id}")
def update_short_number(
    short_number_id: IdPath,
    body: ShortNumberUpdate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
    response: Response,
) -> ShortNumberPublic:
    """Change a short number."""
    record = short_numbers.update_short_number(
        session,
        actor=actor_of(key),
        realm=context.realm,
        short_number_id=short_number_id,
        changes=cast(ShortNumberChanges, changes_of(body)),
        expected_version=expected_version(if_match, body.version),
    )
    return after_write(context, response, ShortNumberPublic, record)


@router.delete("/{short_number_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_short_number(
    short_number_id: IdPath,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
) -> None:
    """Delete a short number."""
    short_numbers.delete_short_number(
        session,
        actor=actor_of(key),
        realm=context.realm,
        short_number_id=short_number_id,
        expected_version=if_match,
    )
    notify_plan_changed(context)

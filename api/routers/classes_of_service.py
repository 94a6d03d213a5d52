"""``/classes-of-service``: which destination kinds extensions may call."""

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
    NameQuery,
    after_write,
    changes_of,
    page_of,
    with_etag,
)
from api.schemas import (
    ClassesOfServicePublic,
    ClassOfServiceCreate,
    ClassOfServicePublic,
    ClassOfServiceUpdate,
)
from dialplan.storage.services import classes_of_service
from dialplan.storage.services.classes_of_service import ClassOfServiceChanges, NewClassOfService

__all__ = ["router"]

router = APIRouter(
    prefix="/classes-of-service", tags=["classes of service"], responses=ERROR_RESPONSES
)


@router.get("")
def list_classes_of_service(
    session: SessionDep, key: ViewerKey, page: PageDep, name: NameQuery = None
) -> ClassesOfServicePublic:
    """List classes of service in name order."""
    result = classes_of_service.list_classes_of_service(
        session, name_contains=name, skip=page.skip, limit=page.limit
    )
    return page_of(ClassesOfServicePublic, ClassOfServicePublic, result)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_class_of_service(
    body: ClassOfServiceCreate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    response: Response,
) -> ClassOfServicePublic:
    """Create a class of service."""
    record = classes_of_service.create_class_of_service(
        session,
        actor=actor_of(key),
        realm=context.realm,
        new=NewClassOfService(name=body.name, allowed=frozenset(body.allowed)),
    )
    return after_write(context, response, ClassOfServicePublic, record)


@router.get("/{cos_id}")
def get_class_of_service(
    cos_id: IdPath, session: SessionDep, key: ViewerKey, response: Response
) -> ClassOfServicePublic:
    """Return one class of service."""
    record = classes_of_service.get_class_of_service(session, cos_id=cos_id)
    return with_etag(response, ClassOfServicePublic, record)


@router.patch("/{cos_id}")
def update_class_of_service(
    cos_id: IdPath,
    body: ClassOfServiceUpdate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
    response: Response,
) -> ClassOfServicePublic:
    """Change a class of service."""
    record = classes_of_service.update_class_of_service(
        session,
        actor=actor_of(key),
        realm=context.realm,
        cos_id=cos_id,
        changes=cast(ClassOfServiceChanges, changes_of(body)),
        expected_version=expected_version(if_match, body.version),
    )
    return after_write(context, response, ClassOfServicePublic, record)


@router.delete("/{cos_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_class_of_service(
    cos_id: IdPath, session: SessionDep, key: OperatorKey, context: ContextDep, if_match: IfMatchDep
) -> None:
    """Delete a class of service no extension has."""
    classes_of_service.delete_class_of_service(
        session, actor=actor_of(key), realm=context.realm, cos_id=cos_id, expected_version=if_match
    )
    notify_plan_changed(context)

"""``/extensions``: phones with SIP credentials. Single-object responses carry an ETag."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Path, Query, Response, status

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
    IdQuery,
    NameQuery,
    PrefixQuery,
    after_write,
    changes_of,
    no_store,
    page_of,
    set_etag,
    with_etag,
)
from api.schemas import (
    ExtensionCreate,
    ExtensionCredentials,
    ExtensionPublic,
    ExtensionsPublic,
    ExtensionUpdate,
    PasswordReset,
)
from dialplan.storage.services import extensions
from dialplan.storage.services.extensions import ExtensionChanges, ExtensionFilter, NewExtension

__all__ = ["router"]

router = APIRouter(prefix="/extensions", tags=["extensions"], responses=ERROR_RESPONSES)

NumberPath = Annotated[str, Path(max_length=32, description="The extension number.")]


@router.get("")
def list_extensions(
    session: SessionDep,
    key: ViewerKey,
    page: PageDep,
    unit_id: IdQuery = None,
    number_prefix: PrefixQuery = None,
    name: NameQuery = None,
    enabled: Annotated[bool | None, Query()] = None,
    site_id: IdQuery = None,
) -> ExtensionsPublic:
    """List extensions in number order, filtered by unit, number prefix, name, state, site."""
    filters = ExtensionFilter(
        unit_id=unit_id,
        number_prefix=number_prefix,
        name_contains=name,
        enabled=enabled,
        site_id=site_id,
    )
    result = extensions.list_extensions(session, filters=filters, skip=page.skip, limit=page.limit)
    return page_of(ExtensionsPublic, ExtensionPublic, result)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_extension(
    body: ExtensionCreate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    response: Response,
) -> ExtensionCredentials:
    """Create an extension inside its unit's number block; a generated password is
    returned this once."""
    created = extensions.create_extension(
        session, actor=actor_of(key), realm=context.realm, new=NewExtension(**body.model_dump())
    )
    notify_plan_changed(context)
    set_etag(response, created.extension.version)
    no_store(response)
    response.headers["Location"] = f"{router.prefix}/{created.extension.number}"
    return ExtensionCredentials(
        extension=ExtensionPublic.model_validate(created.extension),
        password=created.generated_password,
    )


@router.get("/{number}")
def get_extension(
    number: NumberPath, session: SessionDep, key: ViewerKey, response: Response
) -> ExtensionPublic:
    """Return one extension; its ETag is its version."""
    record = extensions.get_extension(session, number=number)
    return with_etag(response, ExtensionPublic, record)


@router.patch("/{number}")
def update_extension(
    number: NumberPath,
    body: ExtensionUpdate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
    response: Response,
) -> ExtensionPublic:
    """Change an extension; 412 if ``If-Match`` (or ``version``) is not its version."""
    record = extensions.update_extension(
        session,
        actor=actor_of(key),
        realm=context.realm,
        number=number,
        changes=cast(ExtensionChanges, changes_of(body)),
        expected_version=expected_version(if_match, body.version),
    )
    return after_write(context, response, ExtensionPublic, record)


@router.put("/{number}/password")
def reset_password(
    number: NumberPath,
    body: PasswordReset,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
    response: Response,
) -> ExtensionCredentials:
    """Replace the SIP credentials; without ``password`` a new one is generated and
    returned this once."""
    result = extensions.reset_extension_password(
        session,
        actor=actor_of(key),
        realm=context.realm,
        number=number,
        password=body.password,
        expected_version=expected_version(if_match, body.version),
    )
    notify_plan_changed(context)
    set_etag(response, result.extension.version)
    no_store(response)
    return ExtensionCredentials(
        extension=ExtensionPublic.model_validate(result.extension),
        password=result.generated_password,
    )


@router.delete("/{number}", status_code=status.HTTP_204_NO_CONTENT)
def delete_extension(
    number: NumberPath,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
) -> None:
    """Delete an extension; 412 if ``If-Match`` is not its version."""
    extensions.delete_extension(
        session,
        actor=actor_of(key),
        realm=context.realm,
        number=number,
        expected_version=if_match,
    )
    notify_plan_changed(context)

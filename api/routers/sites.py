"""``/sites``: where a unit's phones are; priority sites may make video calls."""

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
from api.schemas import SiteCreate, SitePublic, SitesPublic, SiteUpdate
from dialplan.storage.services import sites
from dialplan.storage.services.sites import NewSite, SiteChanges, SiteFilter

__all__ = ["router"]

router = APIRouter(prefix="/sites", tags=["sites"], responses=ERROR_RESPONSES)


@router.get("")
def list_sites(
    session: SessionDep,
    key: ViewerKey,
    page: PageDep,
    unit_id: IdQuery = None,
    name: NameQuery = None,
    priority: Annotated[bool | None, Query()] = None,
) -> SitesPublic:
    """List sites, filtered by unit, name substring and priority."""
    filters = SiteFilter(unit_id=unit_id, name_contains=name, priority=priority)
    result = sites.list_sites(session, filters=filters, skip=page.skip, limit=page.limit)
    return page_of(SitesPublic, SitePublic, result)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_site(
    body: SiteCreate, session: SessionDep, key: OperatorKey, context: ContextDep, response: Response
) -> SitePublic:
    """Create a site; names are unique within a unit."""
    record = sites.create_site(
        session, actor=actor_of(key), realm=context.realm, new=NewSite(**body.model_dump())
    )
    return after_write(context, response, SitePublic, record)


@router.get("/{site_id}")
def get_site(
    site_id: IdPath, session: SessionDep, key: ViewerKey, response: Response
) -> SitePublic:
    """Return one site."""
    record = sites.get_site(session, site_id=site_id)
    return with_etag(response, SitePublic, record)


@router.patch("/{site_id}")
def update_site(
    site_id: IdPath,
    body: SiteUpdate,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
    response: Response,
) -> SitePublic:
    """Change a site."""
    record = sites.update_site(
        session,
        actor=actor_of(key),
        realm=context.realm,
        site_id=site_id,
        changes=cast(SiteChanges, changes_of(body)),
        expected_version=expected_version(if_match, body.version),
    )
    return after_write(context, response, SitePublic, record)


@router.delete("/{site_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_site(
    site_id: IdPath,
    session: SessionDep,
    key: OperatorKey,
    context: ContextDep,
    if_match: IfMatchDep,
) -> None:
    """Delete a site no extension is placed at."""
    sites.delete_site(
        session,
        actor=actor_of(key),
        realm=context.realm,
        site_id=site_id,
        expected_version=if_match,
    )
    notify_plan_changed(context)

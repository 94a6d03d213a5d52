"""Sites: the places a unit's phones are; priority sites may make video calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.storage import repositories
from dialplan.storage.exceptions import Conflict, NotFound, ValidationFailed
from dialplan.storage.models import Extension, Site
from dialplan.storage.records import Actor, Page, SiteRecord
from dialplan.storage.services import _rules
from dialplan.storage.services._convert import site_record
from dialplan.storage.services._unit_of_work import check_version, plan_write, snapshot
from dialplan.storage.validation import check_name

__all__ = [
    "NewSite",
    "SiteChanges",
    "SiteFilter",
    "create_site",
    "delete_site",
    "get_site",
    "list_sites",
    "update_site",
]

_KIND = "site"


@dataclass(frozen=True, slots=True)
class NewSite:
    """The fields of a site to create."""

    unit_id: int
    name: str
    priority: bool = False
    bandwidth_class: str = "standard"


class SiteChanges(TypedDict, total=False):
    """The fields a partial update may change."""

    unit_id: int
    name: str
    priority: bool
    bandwidth_class: str


@dataclass(frozen=True, slots=True)
class SiteFilter:
    """Listing filters; ``None`` means "any"."""

    unit_id: int | None = None
    name_contains: str | None = None
    priority: bool | None = None


def list_sites(
    session: Session, *, filters: SiteFilter | None = None, skip: int = 0, limit: int = 100
) -> Page[SiteRecord]:
    """Return a page of sites in id order."""
    filters = filters or SiteFilter()
    statement = select(Site).order_by(Site.id)
    if filters.unit_id is not None:
        statement = statement.where(Site.unit_id == filters.unit_id)
    if filters.name_contains:
        statement = statement.where(Site.name.contains(filters.name_contains, autoescape=True))
    if filters.priority is not None:
        statement = statement.where(Site.priority == filters.priority)
    with session.begin():
        rows, count = repositories.page(session, statement, skip=skip, limit=limit)
        return Page(items=tuple(site_record(row) for row in rows), count=count)


def get_site(session: Session, *, site_id: int) -> SiteRecord:
    """Return site ``site_id`` or raise :class:`NotFound`."""
    with session.begin():
        return site_record(_load(session, site_id))


def create_site(session: Session, *, actor: Actor, realm: str, new: NewSite) -> SiteRecord:
    """Create a site; its name must be unique within its unit."""
    with plan_write(session, actor=actor, realm=realm) as write:
        unit = _rules.require_unit(session, "unit_id", new.unit_id)
        site = Site(
            unit_id=unit.id,
            name=check_name("name", new.name),
            priority=new.priority,
            bandwidth_class=check_name("bandwidth_class", new.bandwidth_class, max_length=32),
        )
        _check_name_free(session, unit.id, site.name, own_id=None)
        repositories.add(session, site)
        write.record("create", _KIND, str(site.id), before=None, after=snapshot(site))
    return site_record(site)


def update_site(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    site_id: int,
    changes: SiteChanges,
    expected_version: int | None = None,
) -> SiteRecord:
    """Apply ``changes`` to site ``site_id`` if its version is ``expected_version``."""
    with plan_write(session, actor=actor, realm=realm) as write:
        site = _load(session, site_id)
        check_version(f"site {site.name}", site.version, expected_version)
        before = snapshot(site)
        if "unit_id" in changes:
            site.unit_id = _rules.require_unit(session, "unit_id", changes["unit_id"]).id
        if "name" in changes:
            site.name = check_name("name", changes["name"])
        if "priority" in changes:
            priority = changes["priority"]
            if priority is None:
                raise ValidationFailed("priority", "must not be null")
            site.priority = priority
        if "bandwidth_class" in changes:
            site.bandwidth_class = check_name(
                "bandwidth_class", changes["bandwidth_class"], max_length=32
            )
        _check_name_free(session, site.unit_id, site.name, own_id=site.id)
        session.flush()
        write.record("update", _KIND, str(site.id), before=before, after=snapshot(site))
    return site_record(site)


def delete_site(
    session: Session, *, actor: Actor, realm: str, site_id: int, expected_version: int | None = None
) -> None:
    """Delete a site no extension uses."""
    with plan_write(session, actor=actor, realm=realm) as write:
        site = _load(session, site_id)
        check_version(f"site {site.name}", site.version, expected_version)
        user = repositories.first(session, select(Extension).where(Extension.site_id == site.id))
        if user is not None:
            raise Conflict(f"site {site.name} is used by {_rules.describe_extension(user)}")
        before = snapshot(site)
        repositories.remove(session, site)
        write.record("delete", _KIND, str(site_id), before=before, after=None)


def _check_name_free(session: Session, unit_id: int, name: str, *, own_id: int | None) -> None:
    with session.no_autoflush:
        other = repositories.first(
            session,
            select(Site).where(
                Site.unit_id == unit_id, Site.name == name, Site.id != (own_id or 0)
            ),
        )
    if other is not None:
        raise Conflict(f"name {name} is already used by site {other.id} of the same unit")


def _load(session: Session, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return site

"""Organisation units: the county tree of townships, departments and sub-units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.model import UnitKind
from dialplan.storage import repositories
from dialplan.storage.exceptions import Conflict, NotFound, ValidationFailed
from dialplan.storage.models import (
    Extension,
    NumberBlock,
    OrganisationUnit,
    ShortNumber,
    Site,
)
from dialplan.storage.records import Actor, Page, UnitRecord
from dialplan.storage.services import _rules
from dialplan.storage.services._convert import unit_record
from dialplan.storage.services._unit_of_work import PlanWrite, check_version, plan_write, snapshot
from dialplan.storage.validation import check_name, check_unit_code

__all__ = [
    "NewUnit",
    "UnitChanges",
    "UnitFilter",
    "add_unit",
    "change_unit",
    "create_unit",
    "delete_unit",
    "get_unit",
    "list_units",
    "update_unit",
]

_KIND = "organisation_unit"


@dataclass(frozen=True, slots=True)
class NewUnit:
    """The fields of a unit to create."""

    name: str
    code: str
    kind: UnitKind
    parent_id: int | None = None


class UnitChanges(TypedDict, total=False):
    """The fields a partial update may change."""

    name: str
    code: str
    kind: UnitKind
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class UnitFilter:
    """Listing filters; ``None`` means "any"."""

    parent_id: int | None = None
    kind: UnitKind | None = None
    name_contains: str | None = None
    code_prefix: str | None = None


def list_units(
    session: Session, *, filters: UnitFilter | None = None, skip: int = 0, limit: int = 100
) -> Page[UnitRecord]:
    """Return a page of units in code order."""
    filters = filters or UnitFilter()
    statement = select(OrganisationUnit).order_by(OrganisationUnit.code)
    if filters.parent_id is not None:
        statement = statement.where(OrganisationUnit.parent_id == filters.parent_id)
    if filters.kind is not None:
        statement = statement.where(OrganisationUnit.kind == filters.kind)
    if filters.name_contains:
        statement = statement.where(
            OrganisationUnit.name.contains(filters.name_contains, autoescape=True)
        )
    if filters.code_prefix:
        statement = statement.where(
            OrganisationUnit.code.startswith(filters.code_prefix, autoescape=True)
        )
    with session.begin():
        rows, count = repositories.page(session, statement, skip=skip, limit=limit)
        return Page(items=tuple(unit_record(row) for row in rows), count=count)


def get_unit(session: Session, *, unit_id: int) -> UnitRecord:
    """Return unit ``unit_id`` or raise :class:`NotFound`."""
    with session.begin():
        return unit_record(_load(session, unit_id))


def create_unit(session: Session, *, actor: Actor, realm: str, new: NewUnit) -> UnitRecord:
    """Create a unit."""
    with plan_write(session, actor=actor, realm=realm) as write:
        unit = add_unit(write, new)
    return unit_record(unit)


def update_unit(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    unit_id: int,
    changes: UnitChanges,
    expected_version: int | None = None,
) -> UnitRecord:
    """Apply ``changes`` to unit ``unit_id`` if its version is ``expected_version``."""
    with plan_write(session, actor=actor, realm=realm) as write:
        unit = _load(session, unit_id)
        check_version(f"unit {unit.name}", unit.version, expected_version)
        change_unit(write, unit, changes)
    return unit_record(unit)


def delete_unit(
    session: Session, *, actor: Actor, realm: str, unit_id: int, expected_version: int | None = None
) -> None:
    """Delete an empty unit: no sub-units, blocks, sites, extensions or short numbers."""
    with plan_write(session, actor=actor, realm=realm) as write:
        unit = _load(session, unit_id)
        check_version(f"unit {unit.name}", unit.version, expected_version)
        _check_empty(session, unit)
        before = snapshot(unit)
        repositories.remove(session, unit)
        write.record("delete", _KIND, str(unit_id), before=before, after=None)


def add_unit(write: PlanWrite, new: NewUnit) -> OrganisationUnit:
    """Validate and add a unit inside ``write``."""
    session = write.session
    unit = OrganisationUnit(
        name=check_name("name", new.name),
        code=check_unit_code("code", new.code),
        kind=_kind(new.kind),
    )
    _check_code_free(session, unit.code, own_id=None)
    if new.parent_id is not None:
        unit.parent_id = _rules.require_unit(session, "parent_id", new.parent_id).id
    repositories.add(session, unit)
    write.record("create", _KIND, str(unit.id), before=None, after=snapshot(unit))
    return unit


def change_unit(write: PlanWrite, unit: OrganisationUnit, changes: UnitChanges) -> None:
    """Validate and apply ``changes`` to ``unit`` inside ``write``."""
    session = write.session
    before = snapshot(unit)
    if "name" in changes:
        unit.name = check_name("name", changes["name"])
    if "code" in changes:
        code = check_unit_code("code", changes["code"])
        _check_code_free(session, code, own_id=unit.id)
        unit.code = code
    if "kind" in changes:
        unit.kind = _kind(changes["kind"])
    if "parent_id" in changes:
        parent_id = changes["parent_id"]
        if parent_id is not None:
            parent = _rules.require_unit(session, "parent_id", parent_id)
            if parent.id in repositories.unit_descendant_ids(session, unit.id):
                raise ValidationFailed(
                    "parent_id", f"unit {parent.name} is {unit.name} itself or below it"
                )
        unit.parent_id = parent_id
    session.flush()
    after = snapshot(unit)
    if after != before:
        write.record("update", _KIND, str(unit.id), before=before, after=after)


def _check_code_free(session: Session, code: str, *, own_id: int | None) -> None:
    other = repositories.unit_by_code(session, code)
    if other is not None and other.id != own_id:
        raise Conflict(f"code {code} is already used by unit {other.name}")


def _check_empty(session: Session, unit: OrganisationUnit) -> None:
    child = repositories.first(
        session, select(OrganisationUnit).where(OrganisationUnit.parent_id == unit.id)
    )
    if child is not None:
        raise Conflict(f"unit {unit.name} still has sub-unit {child.name}")
    block = repositories.first(session, select(NumberBlock).where(NumberBlock.unit_id == unit.id))
    if block is not None:
        raise Conflict(f"unit {unit.name} still owns block {block.first}-{block.last}")
    site = repositories.first(session, select(Site).where(Site.unit_id == unit.id))
    if site is not None:
        raise Conflict(f"unit {unit.name} still has site {site.name}")
    extension = repositories.first(session, select(Extension).where(Extension.unit_id == unit.id))
    if extension is not None:
        raise Conflict(f"unit {unit.name} still has {_rules.describe_extension(extension)}")
    short = repositories.first(session, select(ShortNumber).where(ShortNumber.unit_id == unit.id))
    if short is not None:
        raise Conflict(
            f"unit {unit.name} still has short number {short.short_code} ({short.person_name})"
        )


def _kind(value: UnitKind | str | None) -> UnitKind:
    try:
        return UnitKind(value or "")
    except ValueError:
        allowed = ", ".join(kind.value for kind in UnitKind)
        raise ValidationFailed("kind", f"{value!r} is not one of {allowed}") from None


def _load(session: Session, unit_id: int) -> OrganisationUnit:
    unit = session.get(OrganisationUnit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} not found")
    return unit

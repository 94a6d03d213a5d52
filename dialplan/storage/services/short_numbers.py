"""Short numbers: 6xxxx codes that ring a person's mobile phone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.storage import repositories
from dialplan.storage.exceptions import NotFound, ValidationFailed
from dialplan.storage.models import ShortNumber
from dialplan.storage.records import Actor, Page, ShortNumberRecord
from dialplan.storage.services import _rules
from dialplan.storage.services._convert import short_number_record
from dialplan.storage.services._unit_of_work import PlanWrite, check_version, plan_write, snapshot
from dialplan.storage.validation import check_e164, check_name, check_number

__all__ = [
    "NewShortNumber",
    "ShortNumberChanges",
    "ShortNumberFilter",
    "add_short_number",
    "change_short_number",
    "create_short_number",
    "delete_short_number",
    "get_short_number",
    "list_short_numbers",
    "update_short_number",
]

_KIND = "short_number"


@dataclass(frozen=True, slots=True)
class NewShortNumber:
    """The fields of a short number to create."""

    short_code: str
    mobile_e164: str
    person_name: str
    unit_id: int
    desk_extension: str | None = None


class ShortNumberChanges(TypedDict, total=False):
    """The fields a partial update may change."""

    short_code: str
    mobile_e164: str
    person_name: str
    unit_id: int
    desk_extension: str | None


@dataclass(frozen=True, slots=True)
class ShortNumberFilter:
    """Listing filters; ``None`` means "any"."""

    unit_id: int | None = None
    code_prefix: str | None = None
    name_contains: str | None = None


def list_short_numbers(
    session: Session, *, filters: ShortNumberFilter | None = None, skip: int = 0, limit: int = 100
) -> Page[ShortNumberRecord]:
    """Return a page of short numbers in code order."""
    filters = filters or ShortNumberFilter()
    statement = select(ShortNumber).order_by(ShortNumber.short_code)
    if filters.unit_id is not None:
        statement = statement.where(ShortNumber.unit_id == filters.unit_id)
    if filters.code_prefix:
        statement = statement.where(
            ShortNumber.short_code.startswith(filters.code_prefix, autoescape=True)
        )
    if filters.name_contains:
        statement = statement.where(
            ShortNumber.person_name.contains(filters.name_contains, autoescape=True)
        )
    with session.begin():
        rows, count = repositories.page(session, statement, skip=skip, limit=limit)
        return Page(items=tuple(short_number_record(row) for row in rows), count=count)


def get_short_number(session: Session, *, short_number_id: int) -> ShortNumberRecord:
    """Return short number ``short_number_id`` or raise :class:`NotFound`."""
    with session.begin():
        return short_number_record(_load(session, short_number_id))


def create_short_number(
    session: Session, *, actor: Actor, realm: str, new: NewShortNumber
) -> ShortNumberRecord:
    """Create a short number whose code no extension or short number uses."""
    with plan_write(session, actor=actor, realm=realm) as write:
        short = add_short_number(write, new)
    return short_number_record(short)


def update_short_number(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    short_number_id: int,
    changes: ShortNumberChanges,
    expected_version: int | None = None,
) -> ShortNumberRecord:
    """Apply ``changes`` if the stored version is ``expected_version``."""
    with plan_write(session, actor=actor, realm=realm) as write:
        short = _load(session, short_number_id)
        check_version(f"short number {short.short_code}", short.version, expected_version)
        change_short_number(write, short, changes)
    return short_number_record(short)


def delete_short_number(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    short_number_id: int,
    expected_version: int | None = None,
) -> None:
    """Delete a short number."""
    with plan_write(session, actor=actor, realm=realm) as write:
        short = _load(session, short_number_id)
        check_version(f"short number {short.short_code}", short.version, expected_version)
        before = snapshot(short)
        repositories.remove(session, short)
        write.record("delete", _KIND, str(short_number_id), before=before, after=None)


def add_short_number(write: PlanWrite, new: NewShortNumber) -> ShortNumber:
    """Validate and add a short number inside ``write``."""
    session = write.session
    short = ShortNumber(
        short_code=check_number("short_code", new.short_code),
        mobile_e164=check_e164("mobile_e164", new.mobile_e164),
        person_name=check_name("person_name", new.person_name),
        unit_id=_rules.require_unit(session, "unit_id", new.unit_id).id,
        desk_extension=_desk_extension(session, new.desk_extension),
    )
    _rules.check_number_free(session, short.short_code)
    repositories.add(session, short)
    write.record("create", _KIND, str(short.id), before=None, after=snapshot(short))
    return short


def change_short_number(write: PlanWrite, short: ShortNumber, changes: ShortNumberChanges) -> None:
    """Validate and apply ``changes`` inside ``write``."""
    session = write.session
    before = snapshot(short)
    if "short_code" in changes:
        code = check_number("short_code", changes["short_code"] or "")
        _rules.check_number_free(session, code, own_short_number_id=short.id)
        short.short_code = code
    if "mobile_e164" in changes:
        short.mobile_e164 = check_e164("mobile_e164", changes["mobile_e164"] or "")
    if "person_name" in changes:
        short.person_name = check_name("person_name", changes["person_name"])
    if "unit_id" in changes:
        short.unit_id = _rules.require_unit(session, "unit_id", changes["unit_id"]).id
    if "desk_extension" in changes:
        short.desk_extension = _desk_extension(session, changes["desk_extension"])
    session.flush()
    after = snapshot(short)
    if after != before:
        write.record("update", _KIND, str(short.id), before=before, after=after)


def _desk_extension(session: Session, number: str | None) -> str | None:
    if number is None or number == "":
        return None
    if repositories.extension_by_number(session, number) is None:
        raise ValidationFailed("desk_extension", f"extension {number} does not exist")
    return number


def _load(session: Session, short_number_id: int) -> ShortNumber:
    short = session.get(ShortNumber, short_number_id)
    if short is None:
        raise NotFound(f"short number {short_number_id} not found")
    return short

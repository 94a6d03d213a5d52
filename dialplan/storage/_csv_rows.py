"""Applying one CSV row of each kind inside an import's plan write.

Each ``apply_*`` resolves the row's references by their CSV names (unit code, class
of service name, site name), then creates or updates the object through the same
service functions the REST API uses. Errors name the CSV column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import select

from dialplan.model import UnitKind
from dialplan.storage import repositories
from dialplan.storage.exceptions import RowError, ValidationFailed
from dialplan.storage.models import OrganisationUnit, Site
from dialplan.storage.services._unit_of_work import PlanWrite
from dialplan.storage.services.extensions import (
    ExtensionChanges,
    NewExtension,
    add_extension,
    change_extension,
    set_password,
)
from dialplan.storage.services.short_numbers import (
    NewShortNumber,
    ShortNumberChanges,
    add_short_number,
    change_short_number,
)
from dialplan.storage.services.units import NewUnit, UnitChanges, add_unit, change_unit

__all__ = ["Tally", "apply_extension", "apply_short_number", "apply_unit"]

_TRUE: Final = frozenset({"true", "1", "yes", "y", "是"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "否"})


@dataclass(slots=True)
class Tally:
    """What an import did so far."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    credentials: list[tuple[str, str]] = field(default_factory=list)
    lines: dict[tuple[str, int], int] = field(default_factory=dict)
    """(object kind, row id) → CSV line, to trace compiler problems back to rows."""

    def count(self, write: PlanWrite, entries_before: int, *, created: bool) -> None:
        """Count the row as created, updated or (no audit entry) unchanged."""
        if created:
            self.created += 1
        elif len(write.entries) > entries_before:
            self.updated += 1
        else:
            self.unchanged += 1


def apply_unit(write: PlanWrite, realm: str, row: dict[str, str], tally: Tally, line: int) -> None:
    """Create or update the unit with the row's ``code``."""
    session = write.session
    parent_id = None
    if row.get("parent_code"):
        parent = repositories.unit_by_code(session, row["parent_code"])
        if parent is None:
            raise ValidationFailed(
                "parent_code",
                f"unit {row['parent_code']} does not exist (list parents before their sub-units)",
            )
        parent_id = parent.id
    kind = _unit_kind(row["kind"])
    entries = len(write.entries)
    existing = repositories.unit_by_code(session, row["code"])
    if existing is None:
        unit = add_unit(
            write, NewUnit(name=row["name"], code=row["code"], kind=kind, parent_id=parent_id)
        )
    else:
        unit = existing
        changes: UnitChanges = {"name": row["name"], "kind": kind, "parent_id": parent_id}
        change_unit(write, unit, changes)
    tally.lines[("unit", unit.id)] = tally.lines[("organisation_unit", unit.id)] = line
    tally.count(write, entries, created=existing is None)


def apply_extension(
    write: PlanWrite, realm: str, row: dict[str, str], tally: Tally, line: int
) -> None:
    """Create or update the extension with the row's ``number``."""
    session = write.session
    unit_id = _unit_id(write, row["unit_code"])
    cos = repositories.class_of_service_by_name(session, row["class_of_service"])
    if cos is None:
        raise ValidationFailed(
            "class_of_service", f"class of service {row['class_of_service']} does not exist"
        )
    site_id = _site_id(write, row.get("site", ""))
    enabled = _boolean("enabled", row.get("enabled", ""), default=True)
    seconds = _integer("no_answer_seconds", row.get("no_answer_seconds", ""), default=20)
    password = row.get("password") or None
    entries = len(write.entries)
    existing = repositories.extension_by_number(session, row["number"])
    if existing is None:
        extension, generated = add_extension(
            write,
            realm=realm,
            new=NewExtension(
                number=row["number"],
                display_name=row["display_name"],
                unit_id=unit_id,
                class_of_service_id=cos.id,
                site_id=site_id,
                enabled=enabled,
                password=password,
                forward_unconditional=row.get("forward_unconditional") or None,
                forward_busy=row.get("forward_busy") or None,
                forward_no_answer=row.get("forward_no_answer") or None,
                no_answer_seconds=seconds,
            ),
        )
        if generated is not None:
            tally.credentials.append((extension.number, generated))
    else:
        extension = existing
        changes: ExtensionChanges = {
            "display_name": row["display_name"],
            "unit_id": unit_id,
            "class_of_service_id": cos.id,
            "site_id": site_id,
            "enabled": enabled,
            "forward_unconditional": row.get("forward_unconditional") or None,
            "forward_busy": row.get("forward_busy") or None,
            "forward_no_answer": row.get("forward_no_answer") or None,
            "no_answer_seconds": seconds,
        }
        change_extension(write, extension, changes)
        if password is not None:
            set_password(write, extension, realm=realm, password=password)
    tally.lines[("extension", extension.id)] = line
    tally.count(write, entries, created=existing is None)


def apply_short_number(
    write: PlanWrite, realm: str, row: dict[str, str], tally: Tally, line: int
) -> None:
    """Create or update the short number with the row's ``short_code``."""
    session = write.session
    unit_id = _unit_id(write, row["unit_code"])
    desk = row.get("desk_extension") or None
    entries = len(write.entries)
    existing = repositories.short_number_by_code(session, row["short_code"])
    if existing is None:
        short = add_short_number(
            write,
            NewShortNumber(
                short_code=row["short_code"],
                mobile_e164=row["mobile_e164"],
                person_name=row["person_name"],
                unit_id=unit_id,
                desk_extension=desk,
            ),
        )
    else:
        short = existing
        changes: ShortNumberChanges = {
            "mobile_e164": row["mobile_e164"],
            "person_name": row["person_name"],
            "unit_id": unit_id,
            "desk_extension": desk,
        }
        change_short_number(write, short, changes)
    tally.lines[("short_number", short.id)] = line
    tally.count(write, entries, created=existing is None)


def _unit_id(write: PlanWrite, code: str) -> int:
    unit = repositories.unit_by_code(write.session, code)
    if unit is None:
        raise ValidationFailed("unit_code", f"unit {code} does not exist")
    return unit.id


def _site_id(write: PlanWrite, name: str) -> int | None:
    if not name:
        return None
    matches = list(write.session.scalars(select(Site).where(Site.name == name)))
    if not matches:
        raise ValidationFailed("site", f"site {name} does not exist")
    if len(matches) > 1:
        units = [write.session.get(OrganisationUnit, site.unit_id) for site in matches]
        codes = ", ".join(unit.code for unit in units if unit is not None)
        raise ValidationFailed("site", f"site name {name} is ambiguous (units {codes})")
    return matches[0].id


def _unit_kind(value: str) -> UnitKind:
    try:
        return UnitKind(value)
    except ValueError:
        allowed = ", ".join(kind.value for kind in UnitKind)
        raise ValidationFailed("kind", f"{value!r} is not one of {allowed}") from None


def _boolean(column: str, value: str, *, default: bool) -> bool:
    if value == "":
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValidationFailed(column, f"{value!r} is not true or false")


def _integer(column: str, value: str, *, default: int) -> int:
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed(column, f"{value!r} is not a whole number") from None

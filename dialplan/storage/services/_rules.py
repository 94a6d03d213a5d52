"""Rules across rows, each raising :class:`Conflict` that names the other object.

Blocks are few (tens per county), so overlap and coverage are computed in Python on
integers rather than with string comparisons whose order depends on the database
collation. Blocks of different lengths never overlap: ``800-899`` and ``8000-8999``
are different numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.storage import repositories
from dialplan.storage.exceptions import Conflict, ValidationFailed
from dialplan.storage.models import (
    ClassOfService,
    Extension,
    NumberBlock,
    OrganisationUnit,
    ShortNumber,
    Site,
    Trunk,
)

__all__ = [
    "block_contains",
    "check_block_free",
    "check_extension_in_unit_blocks",
    "check_extensions_covered",
    "check_number_free",
    "describe_block",
    "describe_extension",
    "first_short_number_of_desk",
    "require_class_of_service",
    "require_site",
    "require_trunk",
    "require_unit",
]


def describe_extension(extension: Extension) -> str:
    """``extension 8001 (张三)``."""
    return f"extension {extension.number} ({extension.display_name})"


def describe_block(session: Session, block: NumberBlock) -> str:
    """``block 8200-8239 of unit 城关镇``."""
    unit = session.get(OrganisationUnit, block.unit_id)
    owner = unit.name if unit is not None else f"#{block.unit_id}"
    return f"block {block.first}-{block.last} of unit {owner}"


def block_contains(block: NumberBlock, number: str) -> bool:
    """Whether ``number`` lies in ``block`` (same length, numerically inside)."""
    return len(number) == len(block.first) and int(block.first) <= int(number) <= int(block.last)


def require_unit(session: Session, field: str, unit_id: int | None) -> OrganisationUnit:
    """Return the referenced unit or fail validation on ``field``."""
    unit = None if unit_id is None else session.get(OrganisationUnit, unit_id)
    if unit is None:
        raise ValidationFailed(field, f"unit {unit_id} does not exist")
    return unit


def require_site(session: Session, field: str, site_id: int) -> Site:
    """Return the referenced site or fail validation on ``field``."""
    site = session.get(Site, site_id)
    if site is None:
        raise ValidationFailed(field, f"site {site_id} does not exist")
    return site


def require_class_of_service(session: Session, field: str, cos_id: int | None) -> ClassOfService:
    """Return the referenced class of service or fail validation on ``field``."""
    cos = None if cos_id is None else session.get(ClassOfService, cos_id)
    if cos is None:
        raise ValidationFailed(field, f"class of service {cos_id} does not exist")
    return cos


def require_trunk(session: Session, field: str, trunk_id: int) -> Trunk:
    """Return the referenced trunk or fail validation on ``field``."""
    trunk = session.get(Trunk, trunk_id)
    if trunk is None:
        raise ValidationFailed(field, f"trunk {trunk_id} does not exist")
    return trunk


def check_number_free(
    session: Session,
    number: str,
    *,
    own_extension_id: int | None = None,
    own_short_number_id: int | None = None,
) -> None:
    """Refuse ``number`` if another extension or short number already uses it."""
    extension = repositories.extension_by_number(session, number)
    if extension is not None and extension.id != own_extension_id:
        raise Conflict(f"number {number} is already used by {describe_extension(extension)}")
    short = repositories.short_number_by_code(session, number)
    if short is not None and short.id != own_short_number_id:
        raise Conflict(
            f"number {number} is already used by short number {short.short_code} "
            f"({short.person_name})"
        )


def check_extension_in_unit_blocks(session: Session, number: str, unit: OrganisationUnit) -> None:
    """Refuse ``number`` unless a block of ``unit`` itself contains it.

    Only the unit's own blocks count, as in the plan compiler: a department that needs
    numbers gets its own block, carved from its parent's range.
    """
    blocks = repositories.blocks_of_units(session, [unit.id])
    if any(block_contains(block, number) for block in blocks):
        return
    for block in session.scalars(select(NumberBlock).order_by(NumberBlock.first)):
        if block_contains(block, number):
            raise Conflict(
                f"number {number} belongs to {describe_block(session, block)}, "
                f"not to unit {unit.name}"
            )
    ranges = ", ".join(f"{b.first}-{b.last}" for b in blocks) or "it has none"
    raise Conflict(f"number {number} is outside the number blocks of unit {unit.name} ({ranges})")


def check_block_free(session: Session, first: str, last: str, *, exclude_id: int | None) -> None:
    """Refuse the range ``first-last`` if it overlaps any other block, in any unit."""
    low, high = int(first), int(last)
    for block in session.scalars(select(NumberBlock).order_by(NumberBlock.first)):
        if block.id == exclude_id or len(block.first) != len(first):
            continue
        if int(block.first) <= high and low <= int(block.last):
            raise Conflict(f"block {first}-{last} overlaps {describe_block(session, block)}")


def check_extensions_covered(session: Session, unit_ids: Iterable[int]) -> None:
    """After a block or unit change, refuse it if an extension of ``unit_ids`` lost its block.

    Call after flushing the change, so the queries see it.
    """
    ids = list(unit_ids)
    extensions = session.scalars(
        select(Extension).where(Extension.unit_id.in_(ids)).order_by(Extension.number)
    )
    for extension in extensions:
        unit = session.get(OrganisationUnit, extension.unit_id)
        assert unit is not None  # foreign key
        blocks = repositories.blocks_of_units(session, [unit.id])
        if not any(block_contains(block, extension.number) for block in blocks):
            raise Conflict(
                f"{describe_extension(extension)} would be outside the number blocks "
                f"of unit {unit.name}"
            )


def first_short_number_of_desk(session: Session, number: str) -> ShortNumber | None:
    """Return a short number whose desk extension is ``number``."""
    return repositories.first(
        session, select(ShortNumber).where(ShortNumber.desk_extension == number)
    )

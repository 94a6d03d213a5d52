"""Queries over the plan tables. Repositories query, add and flush; they never commit.

The services own the transaction; these functions run inside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from dialplan.storage.base import Base
from dialplan.storage.models import (
    ApiKey,
    ClassOfService,
    DialRule,
    Extension,
    NumberBlock,
    OrganisationUnit,
    ShortNumber,
    Site,
    Trunk,
)

__all__ = [
    "add",
    "api_key_by_hash",
    "blocks_of_units",
    "class_of_service_by_name",
    "dial_rule_by_priority",
    "extension_by_number",
    "first",
    "get",
    "page",
    "remove",
    "short_number_by_code",
    "site_by_name",
    "trunk_by_name",
    "unit_by_code",
    "unit_descendant_ids",
]

M = TypeVar("M", bound=Base)


def get(session: Session, model: type[M], object_id: int) -> M | None:
    """Return the object with primary key ``object_id``, or ``None``."""
    return session.get(model, object_id)


def first(session: Session, statement: Select[M]) -> M | None:
    """Return the first object ``statement`` selects, or ``None``."""
    return session.scalars(statement.limit(1)).first()


def page(session: Session, statement: Select[M], *, skip: int, limit: int) -> tuple[list[M], int]:
    """Return rows ``skip .. skip+limit`` of the ordered ``statement`` and the total count."""
    count = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = list(session.scalars(statement.offset(skip).limit(limit)))
    return rows, count or 0


def add(session: Session, obj: Base) -> None:
    """Add ``obj`` and flush, so its id and version are assigned."""
    session.add(obj)
    session.flush()


def remove(session: Session, obj: Base) -> None:
    """Delete ``obj`` and flush."""
    session.delete(obj)
    session.flush()


def unit_by_code(session: Session, code: str) -> OrganisationUnit | None:
    """Return the unit with ``code``."""
    return first(session, select(OrganisationUnit).where(OrganisationUnit.code == code))


def unit_descendant_ids(session: Session, unit_id: int) -> set[int]:
    """Return the ids of ``unit_id`` and every unit below it."""
    children: dict[int | None, list[int]] = {}
    for child_id, parent_id in session.execute(
        select(OrganisationUnit.id, OrganisationUnit.parent_id)
    ):
        children.setdefault(parent_id, []).append(child_id)
    found = {unit_id}
    stack = [unit_id]
    while stack:
        for child_id in children.get(stack.pop(), []):
            if child_id not in found:
                found.add(child_id)
                stack.append(child_id)
    return found


def blocks_of_units(session: Session, unit_ids: Iterable[int]) -> list[NumberBlock]:
    """Return the blocks owned by any of ``unit_ids``, in number order."""
    return list(
        session.scalars(
            select(NumberBlock)
            .where(NumberBlock.unit_id.in_(list(unit_ids)))
            .order_by(NumberBlock.first)
        )
    )


def extension_by_number(session: Session, number: str) -> Extension | None:
    """Return the extension with ``number``."""
    return first(session, select(Extension).where(Extension.number == number))


def short_number_by_code(session: Session, short_code: str) -> ShortNumber | None:
    """Return the short number with ``short_code``."""
    return first(session, select(ShortNumber).where(ShortNumber.short_code == short_code))


def site_by_name(session: Session, unit_id: int, name: str) -> Site | None:
    """Return the site of ``unit_id`` called ``name``."""
    return first(session, select(Site).where(Site.unit_id == unit_id, Site.name == name))


def class_of_service_by_name(session: Session, name: str) -> ClassOfService | None:
    """Return the class of service called ``name``."""
    return first(session, select(ClassOfService).where(ClassOfService.name == name))


def trunk_by_name(session: Session, name: str) -> Trunk | None:
    """Return the trunk called ``name``."""
    return first(session, select(Trunk).where(Trunk.name == name))


def dial_rule_by_priority(session: Session, priority: int) -> DialRule | None:
    """Return the dial rule with ``priority``."""
    return first(session, select(DialRule).where(DialRule.priority == priority))


def api_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    """Return the API key whose secret hashes to ``key_hash``."""
    return first(session, select(ApiKey).where(ApiKey.key_hash == key_hash))

"""Classes of service: which destination kinds an extension may call."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.model import DestinationKind
from dialplan.storage import repositories
from dialplan.storage.exceptions import Conflict, NotFound, ValidationFailed
from dialplan.storage.models import ClassOfService, Extension
from dialplan.storage.records import Actor, ClassOfServiceRecord, Page
from dialplan.storage.services import _rules
from dialplan.storage.services._convert import class_of_service_record
from dialplan.storage.services._unit_of_work import check_version, plan_write, snapshot
from dialplan.storage.validation import check_name

__all__ = [
    "ClassOfServiceChanges",
    "NewClassOfService",
    "allowed_values",
    "create_class_of_service",
    "delete_class_of_service",
    "get_class_of_service",
    "list_classes_of_service",
    "update_class_of_service",
]

_KIND = "class_of_service"


@dataclass(frozen=True, slots=True)
class NewClassOfService:
    """The fields of a class of service to create."""

    name: str
    allowed: frozenset[DestinationKind]


class ClassOfServiceChanges(TypedDict, total=False):
    """The fields a partial update may change."""

    name: str
    allowed: frozenset[DestinationKind]


def list_classes_of_service(
    session: Session, *, name_contains: str | None = None, skip: int = 0, limit: int = 100
) -> Page[ClassOfServiceRecord]:
    """Return a page of classes of service in name order."""
    statement = select(ClassOfService).order_by(ClassOfService.name)
    if name_contains:
        statement = statement.where(ClassOfService.name.contains(name_contains, autoescape=True))
    with session.begin():
        rows, count = repositories.page(session, statement, skip=skip, limit=limit)
        return Page(items=tuple(class_of_service_record(row) for row in rows), count=count)


def get_class_of_service(session: Session, *, cos_id: int) -> ClassOfServiceRecord:
    """Return class of service ``cos_id`` or raise :class:`NotFound`."""
    with session.begin():
        return class_of_service_record(_load(session, cos_id))


def create_class_of_service(
    session: Session, *, actor: Actor, realm: str, new: NewClassOfService
) -> ClassOfServiceRecord:
    """Create a class of service with a unique name."""
    with plan_write(session, actor=actor, realm=realm) as write:
        cos = ClassOfService(name=check_name("name", new.name, max_length=64))
        cos.allowed = allowed_values(new.allowed)
        _check_name_free(session, cos.name, own_id=None)
        repositories.add(session, cos)
        write.record("create", _KIND, str(cos.id), before=None, after=snapshot(cos))
    return class_of_service_record(cos)


def update_class_of_service(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    cos_id: int,
    changes: ClassOfServiceChanges,
    expected_version: int | None = None,
) -> ClassOfServiceRecord:
    """Apply ``changes`` if the stored version is ``expected_version``."""
    with plan_write(session, actor=actor, realm=realm) as write:
        cos = _load(session, cos_id)
        check_version(f"class of service {cos.name}", cos.version, expected_version)
        before = snapshot(cos)
        if "name" in changes:
            name = check_name("name", changes["name"], max_length=64)
            _check_name_free(session, name, own_id=cos.id)
            cos.name = name
        if "allowed" in changes:
            cos.allowed = allowed_values(changes["allowed"])
        session.flush()
        write.record("update", _KIND, str(cos.id), before=before, after=snapshot(cos))
    return class_of_service_record(cos)


def delete_class_of_service(
    session: Session, *, actor: Actor, realm: str, cos_id: int, expected_version: int | None = None
) -> None:
    """Delete a class of service no extension has."""
    with plan_write(session, actor=actor, realm=realm) as write:
        cos = _load(session, cos_id)
        check_version(f"class of service {cos.name}", cos.version, expected_version)
        user = repositories.first(
            session, select(Extension).where(Extension.class_of_service_id == cos.id)
        )
        if user is not None:
            raise Conflict(
                f"class of service {cos.name} is used by {_rules.describe_extension(user)}"
            )
        before = snapshot(cos)
        repositories.remove(session, cos)
        write.record("delete", _KIND, str(cos_id), before=before, after=None)


def allowed_values(kinds: Iterable[DestinationKind | str] | None) -> list[str]:
    """Validate destination kinds and return their values, sorted, for storage."""
    if kinds is None:
        raise ValidationFailed("allowed", "must not be null")
    values = set()
    for kind in kinds:
        try:
            values.add(DestinationKind(kind).value)
        except ValueError:
            known = ", ".join(k.value for k in DestinationKind)
            raise ValidationFailed("allowed", f"{kind!r} is not one of {known}") from None
    return sorted(values)


def _check_name_free(session: Session, name: str, *, own_id: int | None) -> None:
    other = repositories.class_of_service_by_name(session, name)
    if other is not None and other.id != own_id:
        raise Conflict(f"name {name} is already used by class of service {other.id}")


def _load(session: Session, cos_id: int) -> ClassOfService:
    cos = session.get(ClassOfService, cos_id)
    if cos is None:
        raise NotFound(f"class of service {cos_id} not found")
    return cos

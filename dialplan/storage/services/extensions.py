"""Extensions: numbers with SIP credentials, inside their unit's number blocks.

A number is immutable once created because it is the digest username: HA1 depends on
it, so renumbering means deleting the extension and creating a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.credentials import derive_ha1, generate_password
from dialplan.storage import repositories
from dialplan.storage.exceptions import Conflict, NotFound, ValidationFailed
from dialplan.storage.models import Extension
from dialplan.storage.records import Actor, ExtensionCreated, ExtensionRecord, Page
from dialplan.storage.services import _rules
from dialplan.storage.services._convert import extension_record
from dialplan.storage.services._unit_of_work import PlanWrite, check_version, plan_write, snapshot
from dialplan.storage.validation import (
    check_name,
    check_number,
    check_optional_dial_string,
    check_range,
)

__all__ = [
    "ExtensionChanges",
    "ExtensionFilter",
    "NewExtension",
    "add_extension",
    "change_extension",
    "create_extension",
    "delete_extension",
    "get_extension",
    "list_extensions",
    "reset_extension_password",
    "set_password",
    "update_extension",
]

_KIND = "extension"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


@dataclass(frozen=True, slots=True)
class NewExtension:
    """The fields of an extension to create; ``password=None`` generates one."""

    number: str
    display_name: str
    unit_id: int
    class_of_service_id: int
    site_id: int | None = None
    enabled: bool = True
    password: str | None = None
    forward_unconditional: str | None = None
    forward_busy: str | None = None
    forward_no_answer: str | None = None
    no_answer_seconds: int = 20


class ExtensionChanges(TypedDict, total=False):
    """The fields a partial update may change; absent keys stay as they are."""

    display_name: str
    unit_id: int
    site_id: int | None
    class_of_service_id: int
    enabled: bool
    forward_unconditional: str | None
    forward_busy: str | None
    forward_no_answer: str | None
    no_answer_seconds: int


@dataclass(frozen=True, slots=True)
class ExtensionFilter:
    """Listing filters; ``None`` means "any"."""

    unit_id: int | None = None
    number_prefix: str | None = None
    name_contains: str | None = None
    enabled: bool | None = None
    site_id: int | None = None


def list_extensions(
    session: Session, *, filters: ExtensionFilter | None = None, skip: int = 0, limit: int = 100
) -> Page[ExtensionRecord]:
    """Return a page of extensions in number order."""
    filters = filters or ExtensionFilter()
    statement = select(Extension).order_by(Extension.number)
    if filters.unit_id is not None:
        statement = statement.where(Extension.unit_id == filters.unit_id)
    if filters.number_prefix:
        statement = statement.where(
            Extension.number.startswith(filters.number_prefix, autoescape=True)
        )
    if filters.name_contains:
        statement = statement.where(
            Extension.display_name.contains(filters.name_contains, autoescape=True)
        )
    if filters.enabled is not None:
        statement = statement.where(Extension.enabled == filters.enabled)
    if filters.site_id is not None:
        statement = statement.where(Extension.site_id == filters.site_id)
    with session.begin():
        rows, count = repositories.page(session, statement, skip=skip, limit=limit)
        return Page(items=tuple(extension_record(row) for row in rows), count=count)


def get_extension(session: Session, *, number: str) -> ExtensionRecord:
    """Return the extension with ``number`` or raise :class:`NotFound`."""
    with session.begin():
        return extension_record(_load(session, number))


def create_extension(
    session: Session, *, actor: Actor, realm: str, new: NewExtension
) -> ExtensionCreated:
    """Create an extension; the generated password (if any) is returned once."""
    with plan_write(session, actor=actor, realm=realm) as write:
        extension, password = add_extension(write, realm=realm, new=new)
    return ExtensionCreated(extension=extension_record(extension), generated_password=password)


def update_extension(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    number: str,
    changes: ExtensionChanges,
    expected_version: int | None = None,
) -> ExtensionRecord:
    """Apply ``changes`` to extension ``number`` if its version is ``expected_version``."""
    with plan_write(session, actor=actor, realm=realm) as write:
        extension = _load(session, number)
        check_version(f"extension {number}", extension.version, expected_version)
        change_extension(write, extension, changes)
    return extension_record(extension)


def reset_extension_password(
    session: Session,
    *,
    actor: Actor,
    realm: str,
    number: str,
    password: str | None = None,
    expected_version: int | None = None,
) -> ExtensionCreated:
    """Replace the extension's credentials; ``password=None`` generates a new password."""
    with plan_write(session, actor=actor, realm=realm) as write:
        extension = _load(session, number)
        check_version(f"extension {number}", extension.version, expected_version)
        generated = set_password(write, extension, realm=realm, password=password)
    return ExtensionCreated(extension=extension_record(extension), generated_password=generated)


def delete_extension(
    session: Session, *, actor: Actor, realm: str, number: str, expected_version: int | None = None
) -> None:
    """Delete extension ``number`` unless a short number names it as desk extension."""
    with plan_write(session, actor=actor, realm=realm) as write:
        extension = _load(session, number)
        check_version(f"extension {number}", extension.version, expected_version)
        short = _rules.first_short_number_of_desk(session, number)
        if short is not None:
            raise Conflict(
                f"{_rules.describe_extension(extension)} is the desk extension of short number "
                f"{short.short_code} ({short.person_name})"
            )
        before = snapshot(extension)
        repositories.remove(session, extension)
        write.record("delete", _KIND, number, before=before, after=None)


def add_extension(
    write: PlanWrite, *, realm: str, new: NewExtension
) -> tuple[Extension, str | None]:
    """Validate and add an extension inside ``write``; return it and any generated password."""
    session = write.session
    number = check_number("number", new.number)
    extension = Extension(
        number=number,
        display_name=check_name("display_name", new.display_name),
        enabled=new.enabled,
        forward_unconditional=check_optional_dial_string(
            "forward_unconditional", new.forward_unconditional
        ),
        forward_busy=check_optional_dial_string("forward_busy", new.forward_busy),
        forward_no_answer=check_optional_dial_string("forward_no_answer", new.forward_no_answer),
        no_answer_seconds=check_range("no_answer_seconds", new.no_answer_seconds, 5, 300),
    )
    password = _checked_password(new.password)
    unit = _rules.require_unit(session, "unit_id", new.unit_id)
    extension.unit_id = unit.id
    extension.class_of_service_id = _rules.require_class_of_service(
        session, "class_of_service_id", new.class_of_service_id
    ).id
    if new.site_id is not None:
        extension.site_id = _rules.require_site(session, "site_id", new.site_id).id
    _rules.check_number_free(session, number)
    _rules.check_extension_in_unit_blocks(session, number, unit)
    generated = None if password is not None else generate_password()
    _set_ha1(extension, realm, password or generated or "")
    repositories.add(session, extension)
    write.record("create", _KIND, number, before=None, after=snapshot(extension))
    return extension, generated


def change_extension(write: PlanWrite, extension: Extension, changes: ExtensionChanges) -> None:
    """Validate and apply ``changes`` to ``extension`` inside ``write``."""
    session = write.session
    before = snapshot(extension)
    if "display_name" in changes:
        extension.display_name = check_name("display_name", changes["display_name"])
    if "enabled" in changes:
        extension.enabled = _not_null("enabled", changes["enabled"])
    if "forward_unconditional" in changes:
        extension.forward_unconditional = check_optional_dial_string(
            "forward_unconditional", changes["forward_unconditional"]
        )
    if "forward_busy" in changes:
        extension.forward_busy = check_optional_dial_string("forward_busy", changes["forward_busy"])
    if "forward_no_answer" in changes:
        extension.forward_no_answer = check_optional_dial_string(
            "forward_no_answer", changes["forward_no_answer"]
        )
    if "no_answer_seconds" in changes:
        extension.no_answer_seconds = check_range(
            "no_answer_seconds", changes["no_answer_seconds"], 5, 300
        )
    if "class_of_service_id" in changes:
        extension.class_of_service_id = _rules.require_class_of_service(
            session, "class_of_service_id", changes["class_of_service_id"]
        ).id
    if "site_id" in changes:
        site_id = changes["site_id"]
        extension.site_id = (
            None if site_id is None else _rules.require_site(session, "site_id", site_id).id
        )
    if "unit_id" in changes:
        unit = _rules.require_unit(session, "unit_id", changes["unit_id"])
        _rules.check_extension_in_unit_blocks(session, extension.number, unit)
        extension.unit_id = unit.id
    session.flush()
    after = snapshot(extension)
    if after != before:
        write.record("update", _KIND, extension.number, before=before, after=after)


def set_password(
    write: PlanWrite, extension: Extension, *, realm: str, password: str | None
) -> str | None:
    """Replace the extension's HA1 values inside ``write``; return a generated password."""
    checked = _checked_password(password)
    generated = None if checked is not None else generate_password()
    before = snapshot(extension)
    # New HA1 values make the flush an UPDATE, which increments the version: clients
    # holding the old ETag see that the credentials changed.
    _set_ha1(extension, realm, checked or generated or "")
    write.session.flush()
    write.record(
        "reset_password", _KIND, extension.number, before=before, after=snapshot(extension)
    )
    return generated


def _set_ha1(extension: Extension, realm: str, password: str) -> None:
    extension.ha1_md5 = derive_ha1("MD5", extension.number, realm, password)
    extension.ha1_sha256 = derive_ha1("SHA-256", extension.number, realm, password)


def _checked_password(password: str | None) -> str | None:
    if password is None:
        return None
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            "password",
            f"length {len(password)} is not between "
            f"{MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH}",
        )
    return password


def _not_null(field: str, value: bool | None) -> bool:
    if value is None:
        raise ValidationFailed(field, "must not be null")
    return value


def _load(session: Session, number: str) -> Extension:
    extension = repositories.extension_by_number(session, number)
    if extension is None:
        raise NotFound(f"extension {number} not found")
    return extension

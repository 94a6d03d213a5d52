"""SQLAlchemy ORM models of the numbering plan, API keys, audit log and plan state.

Theory of operation: these classes never leave ``dialplan.storage``. Services convert
them to the frozen records in :mod:`dialplan.storage.records`, and
:func:`dialplan.storage.loader.load_plan_rows` converts them to the engine's
``PlanRows``. Rules that need more than one row (no overlapping blocks, an extension
inside its unit's block) are checked by the services, which report the conflicting
object by name; the constraints here are the last line of defence.

Every mutable plan table has ``version`` (optimistic concurrency: SQLAlchemy adds
``WHERE version = :old`` to each UPDATE and increments it) and ``created_at`` /
``updated_at``, stored UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from dialplan.model import DestinationKind, UnitKind
from dialplan.storage.base import Base, UtcDateTime, utc_now
from dialplan.storage.records import Role

__all__ = [
    "ApiKey",
    "AuditLog",
    "ClassOfService",
    "DialRule",
    "Extension",
    "NumberBlock",
    "OrganisationUnit",
    "PlanState",
    "ShortNumber",
    "Site",
    "Trunk",
]


def _enum_values(enum_class: type[Any]) -> list[str]:
    return [member.value for member in enum_class]


def _string_enum(enum_class: type[Any], name: str, length: int) -> Enum:
    """A portable VARCHAR enum storing the members' values, with a named CHECK."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=_enum_values,
        validate_strings=True,
    )


class _Versioned:
    """Mixin: optimistic-concurrency version and UTC creation/update times."""

    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - declared_attr takes the class
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]  # mixin: __table__ exists once mapped


class OrganisationUnit(_Versioned, Base):
    """A node of the county tree: the county, a township, a department or a sub-unit."""

    __tablename__ = "organisation_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation_unit.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[UnitKind] = mapped_column(_string_enum(UnitKind, "unit_kind", 16))


class Site(_Versioned, Base):
    """A physical location of a unit; priority sites may make video calls."""

    __tablename__ = "site"
    __table_args__ = (UniqueConstraint("unit_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("organisation_unit.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    bandwidth_class: Mapped[str] = mapped_column(String(32))


class NumberBlock(_Versioned, Base):
    """A contiguous range of extension numbers owned by one unit."""

    __tablename__ = "number_block"
    __table_args__ = (CheckConstraint("length(first) = length(last)", name="equal_length"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("organisation_unit.id", ondelete="RESTRICT"), index=True
    )
    first: Mapped[str] = mapped_column(String(16))
    last: Mapped[str] = mapped_column(String(16))


class ClassOfService(_Versioned, Base):
    """A named set of destination kinds an extension may call."""

    __tablename__ = "class_of_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    allowed: Mapped[list[str]] = mapped_column(JSON)
    """Sorted ``DestinationKind`` values."""


class Extension(_Versioned, Base):
    """A phone number with SIP digest credentials (HA1 only, never the password)."""

    __tablename__ = "extension"
    __table_args__ = (
        CheckConstraint("no_answer_seconds BETWEEN 5 AND 300", name="no_answer_seconds_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("organisation_unit.id", ondelete="RESTRICT"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.id", ondelete="RESTRICT"), index=True
    )
    class_of_service_id: Mapped[int] = mapped_column(
        ForeignKey("class_of_service.id", ondelete="RESTRICT"), index=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    ha1_md5: Mapped[str] = mapped_column(String(32))
    ha1_sha256: Mapped[str] = mapped_column(String(64))
    forward_unconditional: Mapped[str | None] = mapped_column(String(32))
    forward_busy: Mapped[str | None] = mapped_column(String(32))
    forward_no_answer: Mapped[str | None] = mapped_column(String(32))
    no_answer_seconds: Mapped[int] = mapped_column(Integer, default=20)


class ShortNumber(_Versioned, Base):
    """A short code (6xxxx) that reaches a person's mobile phone."""

    __tablename__ = "short_number"

    id: Mapped[int] = mapped_column(primary_key=True)
    short_code: Mapped[str] = mapped_column(String(16), unique=True)
    mobile_e164: Mapped[str] = mapped_column(String(20))
    person_name: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("organisation_unit.id", ondelete="RESTRICT"), index=True
    )
    desk_extension: Mapped[str | None] = mapped_column(String(32))


class Trunk(_Versioned, Base):
    """A SIP trunk to a carrier or a neighbouring system."""

    __tablename__ = "trunk"
    __table_args__ = (CheckConstraint("port BETWEEN 1 AND 65535", name="port_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=5060)
    transport: Mapped[str] = mapped_column(String(8), default="udp")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class DialRule(_Versioned, Base):
    """A priority-ordered pattern leading to a destination kind (and trunk)."""

    __tablename__ = "dial_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    priority: Mapped[int] = mapped_column(Integer, unique=True)
    pattern: Mapped[str] = mapped_column(String(64))
    min_length: Mapped[int] = mapped_column(Integer)
    max_length: Mapped[int] = mapped_column(Integer)
    destination: Mapped[DestinationKind] = mapped_column(
        _string_enum(DestinationKind, "destination_kind", 32)
    )
    trunk_id: Mapped[int | None] = mapped_column(
        ForeignKey("trunk.id", ondelete="RESTRICT"), index=True
    )
    strip: Mapped[int] = mapped_column(Integer, default=0)
    prepend: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(String(200), default="")


class ApiKey(Base):
    """An API key: only the SHA-256 of the secret is kept, plus a display prefix."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(_string_enum(Role, "api_key_role", 16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditLog(Base):
    """One write: who did what to which object, with the object before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_kind", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="SET NULL"), index=True
    )
    api_key_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    object_kind: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PlanState(Base):
    """The single row whose ``version`` every plan write increments.

    The SIP process polls it and reloads the plan when it changes.
    """

    __tablename__ = "plan_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)

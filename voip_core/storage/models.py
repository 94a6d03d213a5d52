"""SQLAlchemy model of the registration table (``registration_binding``).

The SIP core's schema has its own ``metadata`` (Alembic's ``env.py`` adds it to the
numbering plan's) with the same naming convention, so every constraint and index has a
deterministic name that migrations can drop on any backend.

One row per binding. The source connection id is not stored: it names a socket of the
process that received the REGISTER and means nothing after a restart or on another
node, where the transport finds the flow by address instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Dialect,
    Float,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime, TypeDecorator

from voip_core.registrar.binding import (
    MAX_AOR_LENGTH,
    MAX_CALL_ID_LENGTH,
    MAX_CONTACT_LENGTH,
    MAX_INSTANCE_ID_LENGTH,
    MAX_USER_AGENT_LENGTH,
)

__all__ = ["NAMING_CONVENTION", "Base", "RegistrationBinding", "UtcDateTime", "metadata"]

NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: The registration schema's metadata (imported by ``migrations/env.py``).
metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: Longest temporary GRUU: ``sip:tgruu.`` + base32 of (34 + AOR) bytes + ``@host;gr``.
MAX_GRUU_LENGTH: Final = 1024


class Base(DeclarativeBase):
    """Declarative base of the SIP core's tables."""

    metadata = metadata


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that takes aware datetimes and always returns UTC.

    PostgreSQL stores ``timestamptz``. SQLite has no time zone support: values are
    stored there as naive UTC text, and marked UTC again when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; refuse naive values, whose zone is unknown."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; times are stored UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored time as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class RegistrationBinding(Base):
    """One contact bound to an address-of-record (a :class:`~voip_core.registrar.Binding`)."""

    __tablename__ = "registration_binding"
    __table_args__ = (UniqueConstraint("aor", "contact_uri"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    aor: Mapped[str] = mapped_column(String(MAX_AOR_LENGTH), index=True)
    contact_uri: Mapped[str] = mapped_column(String(MAX_CONTACT_LENGTH))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    call_id: Mapped[str] = mapped_column(String(MAX_CALL_ID_LENGTH))
    cseq: Mapped[int] = mapped_column(Integer)
    q: Mapped[float | None] = mapped_column(Float())
    source_transport: Mapped[str] = mapped_column(String(8))
    source_host: Mapped[str] = mapped_column(String(64))
    source_port: Mapped[int] = mapped_column(Integer)
    user_agent: Mapped[str | None] = mapped_column(String(MAX_USER_AGENT_LENGTH))
    instance_id: Mapped[str | None] = mapped_column(String(MAX_INSTANCE_ID_LENGTH))
    reg_id: Mapped[int | None] = mapped_column(Integer)
    path: Mapped[list[str]] = mapped_column(JSON)
    """RFC 3327 Path values, topmost first (a JSON array)."""
    temp_gruu: Mapped[str | None] = mapped_column(String(MAX_GRUU_LENGTH))

"""Frozen values the storage services return; ORM objects never leave storage.

Each ``*Record`` mirrors one table without secrets: extensions carry no HA1 and API
keys no hash. ``version`` is the optimistic-concurrency counter a client echoes back
(as ``If-Match`` or a ``version`` field) when it updates or deletes the object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeAlias, TypeVar

from dialplan.model import DestinationKind, UnitKind

__all__ = [
    "Actor",
    "ApiKeyCreated",
    "ApiKeyRecord",
    "AuditRecord",
    "BlockRecord",
    "ClassOfServiceRecord",
    "DialRuleRecord",
    "ExtensionCreated",
    "ExtensionRecord",
    "JsonObject",
    "JsonValue",
    "Page",
    "Role",
    "ShortNumberRecord",
    "SiteRecord",
    "TrunkRecord",
    "UnitRecord",
]

JsonValue: TypeAlias = "str | int | float | bool | None | list[JsonValue] | dict[str, JsonValue]"
JsonObject: TypeAlias = "dict[str, JsonValue]"

T = TypeVar("T")


class Role(StrEnum):
    """What an API key may do; each role includes the ones before it."""

    VIEWER = "viewer"
    """Read everything except API keys."""
    OPERATOR = "operator"
    """Also write the numbering plan: units, sites, blocks, extensions, short numbers,
    classes of service, dial rules, CSV import."""
    ADMIN = "admin"
    """Also manage API keys and trunks."""

    @property
    def rank(self) -> int:
        """Position in the viewer < operator < admin order."""
        return list(Role).index(self)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs a write, as recorded in the audit log."""

    name: str
    api_key_id: int | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the number of rows matching the filters."""

    items: tuple[T, ...]
    count: int


@dataclass(frozen=True, slots=True)
class UnitRecord:
    """An organisation unit."""

    id: int
    parent_id: int | None
    name: str
    code: str
    kind: UnitKind
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SiteRecord:
    """A site of a unit."""

    id: int
    unit_id: int
    name: str
    priority: bool
    bandwidth_class: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """A number block of a unit."""

    id: int
    unit_id: int
    first: str
    last: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ClassOfServiceRecord:
    """A class of service and the destination kinds it allows."""

    id: int
    name: str
    allowed: frozenset[DestinationKind]
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ExtensionRecord:
    """An extension, without its HA1 credentials."""

    id: int
    number: str
    display_name: str
    unit_id: int
    site_id: int | None
    class_of_service_id: int
    enabled: bool
    forward_unconditional: str | None
    forward_busy: str | None
    forward_no_answer: str | None
    no_answer_seconds: int
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ExtensionCreated:
    """A new extension, or one whose password was reset."""

    extension: ExtensionRecord
    generated_password: str | None
    """The password the service generated, shown once; ``None`` when the caller chose it."""


@dataclass(frozen=True, slots=True)
class ShortNumberRecord:
    """A short code mapped to a mobile number."""

    id: int
    short_code: str
    mobile_e164: str
    person_name: str
    unit_id: int
    desk_extension: str | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TrunkRecord:
    """A SIP trunk."""

    id: int
    name: str
    host: str
    port: int
    transport: str
    enabled: bool
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DialRuleRecord:
    """A dial rule."""

    id: int
    priority: int
    pattern: str
    min_length: int
    max_length: int
    destination: DestinationKind
    trunk_id: int | None
    strip: int
    prepend: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key, without its hash."""

    id: int
    name: str
    role: Role
    prefix: str
    """The first characters of the key, enough to recognise it in a listing."""
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class ApiKeyCreated:
    """A new API key and its secret, which is shown once and never stored."""

    key: ApiKeyRecord
    secret: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit-log entry; ``before``/``after`` are JSON snapshots of the object."""

    id: int
    at: datetime
    api_key_id: int | None
    api_key_name: str
    action: str
    object_kind: str
    object_id: str
    before: JsonObject | None
    after: JsonObject | None

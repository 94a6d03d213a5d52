"""Schemas of API keys and the audit log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api.schemas.common import Name, local_time
from dialplan.storage.records import AuditRecord, Role

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPublic",
    "ApiKeysPublic",
    "AuditEntriesPublic",
    "AuditEntryPublic",
]


class ApiKeyCreate(BaseModel):
    """A new API key."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "县政府办公室 网管 王芳", "role": "operator"}]}
    )

    name: Name
    role: Role


class ApiKeyPublic(BaseModel):
    """An API key, identified by its prefix; the secret is never shown again."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeysPublic(BaseModel):
    """A page of API keys."""

    data: list[ApiKeyPublic]
    count: int


class ApiKeyCreated(BaseModel):
    """A new key and its secret: store it now, it is shown this once."""

    key: ApiKeyPublic
    secret: str = Field(description="Send as `Authorization: Bearer <secret>`.")


class AuditEntryPublic(BaseModel):
    """One write: who changed which object, and the object before and after."""

    id: int
    at: datetime
    """UTC."""
    at_local: datetime = Field(description="`at` in China Standard Time (Asia/Shanghai).")
    api_key_id: int | None
    api_key_name: str
    action: str
    object_kind: str
    object_id: str
    before: dict[str, JsonValue] | None
    after: dict[str, JsonValue] | None

    @classmethod
    def from_record(cls, record: AuditRecord) -> AuditEntryPublic:
        """Build from a service record, adding the local rendering of ``at``."""
        return cls(
            id=record.id,
            at=record.at,
            at_local=local_time(record.at),
            api_key_id=record.api_key_id,
            api_key_name=record.api_key_name,
            action=record.action,
            object_kind=record.object_kind,
            object_id=record.object_id,
            before=record.before,
            after=record.after,
        )


class AuditEntriesPublic(BaseModel):
    """A page of audit entries, newest first."""

    data: list[AuditEntryPublic]
    count: int

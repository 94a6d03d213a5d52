"""Schemas of extensions and their credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import DialString, Id, Name, Number, Version

__all__ = [
    "ExtensionCreate",
    "ExtensionCredentials",
    "ExtensionPublic",
    "ExtensionUpdate",
    "ExtensionsPublic",
    "PasswordReset",
]

Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]


class ExtensionCreate(BaseModel):
    """A new extension. Without ``password`` one is generated and returned once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": "8203",
                    "display_name": "张三",
                    "unit_id": 4,
                    "class_of_service_id": 2,
                    "site_id": None,
                    "enabled": True,
                    "forward_no_answer": "60003",
                    "no_answer_seconds": 20,
                }
            ]
        }
    )

    number: Number = Field(description="2-16 digits inside a number block of the unit.")
    display_name: Name
    unit_id: Id
    class_of_service_id: Id
    site_id: Id | None = None
    enabled: bool = True
    password: Password | None = Field(
        default=None, description="SIP password; stored only as HA1. Omit to generate one."
    )
    forward_unconditional: DialString | None = None
    forward_busy: DialString | None = None
    forward_no_answer: DialString | None = None
    no_answer_seconds: int = Field(default=20, ge=5, le=300)


class ExtensionUpdate(BaseModel):
    """Fields of an extension to change; the number cannot change (it is the SIP
    username the HA1 is derived from). Send ``If-Match`` or ``version``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"display_name": "张三（值班）", "forward_busy": "8202"}]}
    )

    display_name: Name | None = None
    unit_id: Id | None = None
    class_of_service_id: Id | None = None
    site_id: Id | None = None
    enabled: bool | None = None
    forward_unconditional: DialString | None = None
    forward_busy: DialString | None = None
    forward_no_answer: DialString | None = None
    no_answer_seconds: int | None = Field(default=None, ge=5, le=300)
    version: Version | None = None


class ExtensionPublic(BaseModel):
    """An extension, without credentials. ``version`` is also sent as the ETag."""

    model_config = ConfigDict(from_attributes=True)

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


class ExtensionsPublic(BaseModel):
    """A page of extensions."""

    data: list[ExtensionPublic]
    count: int


class ExtensionCredentials(BaseModel):
    """An extension just created or given new credentials."""

    extension: ExtensionPublic
    password: str | None = Field(
        description="The generated SIP password, shown this once; null if you chose it."
    )


class PasswordReset(BaseModel):
    """New credentials for an extension; without ``password`` one is generated."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"password": "Ronghe-8203-pw"}]})

    password: Password | None = None
    version: Version | None = None

"""Schemas of short numbers, trunks and dial rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import E164, Id, Name, Number, Prepend, Version
from dialplan.model import DestinationKind

__all__ = [
    "DialRuleCreate",
    "DialRulePublic",
    "DialRuleUpdate",
    "DialRulesPublic",
    "ShortNumberCreate",
    "ShortNumberPublic",
    "ShortNumberUpdate",
    "ShortNumbersPublic",
    "TrunkCreate",
    "TrunkPublic",
    "TrunkUpdate",
    "TrunksPublic",
]

Transport = Literal["udp", "tcp", "tls"]
Port = Annotated[int, Field(ge=1, le=65535)]
Length = Annotated[int, Field(ge=1, le=32)]
Strip = Annotated[int, Field(ge=0, le=32)]
Priority = Annotated[int, Field(ge=0, le=1_000_000, description="Lower is tried first.")]
Pattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(description="Asterisk-style: digits, X, N, Z, [1-5], final '.'"),
]
Description = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1F\x7F]*$")]
Host = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.:\[\]-]+$")
]


class ShortNumberCreate(BaseModel):
    """A new short number ringing a staff mobile."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "short_code": "60004",
                    "mobile_e164": "+8613800000004",
                    "person_name": "李四",
                    "unit_id": 6,
                    "desk_extension": "8301",
                }
            ]
        }
    )

    short_code: Number
    mobile_e164: E164
    person_name: Name
    unit_id: Id
    desk_extension: Number | None = None


class ShortNumberUpdate(BaseModel):
    """Fields of a short number to change."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"mobile_e164": "+8613900000004"}]})

    short_code: Number | None = None
    mobile_e164: E164 | None = None
    person_name: Name | None = None
    unit_id: Id | None = None
    desk_extension: Number | None = None
    version: Version | None = None


class ShortNumberPublic(BaseModel):
    """A short number."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    short_code: str
    mobile_e164: str
    person_name: str
    unit_id: int
    desk_extension: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class ShortNumbersPublic(BaseModel):
    """A page of short numbers."""

    data: list[ShortNumberPublic]
    count: int


class TrunkCreate(BaseModel):
    """A new carrier trunk."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "电信中继", "host": "198.51.100.10", "port": 5060, "transport": "udp"}
            ]
        }
    )

    name: Name = Field(max_length=64)
    host: Host
    port: Port = 5060
    transport: Transport = "udp"
    enabled: bool = True


class TrunkUpdate(BaseModel):
    """Fields of a trunk to change."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"enabled": False}]})

    name: Name | None = Field(default=None, max_length=64)
    host: Host | None = None
    port: Port | None = None
    transport: Transport | None = None
    enabled: bool | None = None
    version: Version | None = None


class TrunkPublic(BaseModel):
    """A trunk."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    host: str
    port: int
    transport: str
    enabled: bool
    version: int
    created_at: datetime
    updated_at: datetime


class TrunksPublic(BaseModel):
    """A page of trunks."""

    data: list[TrunkPublic]
    count: int


class DialRuleCreate(BaseModel):
    """A new dial rule; the plan compiler checks it before it is saved."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "priority": 30,
                    "pattern": "9NXXXXXXX",
                    "min_length": 9,
                    "max_length": 9,
                    "destination": "external_local",
                    "trunk_id": 1,
                    "strip": 1,
                    "prepend": "",
                    "description": "9 + 本地固话",
                }
            ]
        }
    )

    priority: Priority
    pattern: Pattern
    min_length: Length
    max_length: Length
    destination: DestinationKind
    trunk_id: Id | None = None
    strip: Strip = 0
    prepend: Prepend = ""
    description: Description = ""


class DialRuleUpdate(BaseModel):
    """Fields of a dial rule to change."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"description": "本地固话（9 出局）"}]}
    )

    priority: Priority | None = None
    pattern: Pattern | None = None
    min_length: Length | None = None
    max_length: Length | None = None
    destination: DestinationKind | None = None
    trunk_id: Id | None = None
    strip: Strip | None = None
    prepend: Prepend | None = None
    description: Description | None = None
    version: Version | None = None


class DialRulePublic(BaseModel):
    """A dial rule."""

    model_config = ConfigDict(from_attributes=True)

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


class DialRulesPublic(BaseModel):
    """A page of dial rules."""

    data: list[DialRulePublic]
    count: int

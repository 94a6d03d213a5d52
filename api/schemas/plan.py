"""Schemas of units, sites, number blocks and classes of service."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas.common import Id, Name, Number, UnitCode, Version
from dialplan.model import DestinationKind, UnitKind

__all__ = [
    "BlockCreate",
    "BlockPublic",
    "BlockUpdate",
    "BlocksPublic",
    "ClassOfServiceCreate",
    "ClassOfServicePublic",
    "ClassOfServiceUpdate",
    "ClassesOfServicePublic",
    "SiteCreate",
    "SitePublic",
    "SiteUpdate",
    "SitesPublic",
    "UnitCreate",
    "UnitPublic",
    "UnitUpdate",
    "UnitsPublic",
]


class UnitCreate(BaseModel):
    """A new organisation unit."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "城关镇", "code": "cgz", "kind": "township", "parent_id": 1}]
        }
    )

    name: Name
    code: UnitCode = Field(description="Short ASCII code, used in CSV files.")
    kind: UnitKind
    parent_id: Id | None = None


class UnitUpdate(BaseModel):
    """Fields of a unit to change; omitted fields stay."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "城关镇人民政府"}]})

    name: Name | None = None
    code: UnitCode | None = None
    kind: UnitKind | None = None
    parent_id: Id | None = None
    version: Version | None = None


class UnitPublic(BaseModel):
    """An organisation unit."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    parent_id: int | None
    name: str
    code: str
    kind: UnitKind
    version: int
    created_at: datetime
    updated_at: datetime


class UnitsPublic(BaseModel):
    """A page of units and the number matching the filters."""

    data: list[UnitPublic]
    count: int


class SiteCreate(BaseModel):
    """A new site."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"unit_id": 3, "name": "应急指挥中心", "priority": True, "bandwidth_class": "video"}
            ]
        }
    )

    unit_id: Id
    name: Name
    priority: bool = Field(default=False, description="Priority sites may make video calls.")
    bandwidth_class: Name = "standard"


class SiteUpdate(BaseModel):
    """Fields of a site to change."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"priority": True}]})

    unit_id: Id | None = None
    name: Name | None = None
    priority: bool | None = None
    bandwidth_class: Name | None = None
    version: Version | None = None


class SitePublic(BaseModel):
    """A site."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    name: str
    priority: bool
    bandwidth_class: str
    version: int
    created_at: datetime
    updated_at: datetime


class SitesPublic(BaseModel):
    """A page of sites."""

    data: list[SitePublic]
    count: int


class BlockCreate(BaseModel):
    """A new number block; it may not overlap any block of any unit."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"unit_id": 4, "first": "8200", "last": "8239"}]}
    )

    unit_id: Id
    first: Number
    last: Number


class BlockUpdate(BaseModel):
    """Fields of a block to change."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"last": "8249"}]})

    unit_id: Id | None = None
    first: Number | None = None
    last: Number | None = None
    version: Version | None = None


class BlockPublic(BaseModel):
    """A number block."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    first: str
    last: str
    version: int
    created_at: datetime
    updated_at: datetime


class BlocksPublic(BaseModel):
    """A page of number blocks."""

    data: list[BlockPublic]
    count: int


class ClassOfServiceCreate(BaseModel):
    """A new class of service."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "local", "allowed": ["extension", "short_number", "external_local"]}
            ]
        }
    )

    name: Name = Field(max_length=64)
    allowed: list[DestinationKind] = Field(max_length=len(DestinationKind) * 2)


class ClassOfServiceUpdate(BaseModel):
    """Fields of a class of service to change."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"allowed": ["extension", "external_local"]}]}
    )

    name: Name | None = Field(default=None, max_length=64)
    allowed: list[DestinationKind] | None = Field(default=None, max_length=len(DestinationKind) * 2)
    version: Version | None = None


class ClassOfServicePublic(BaseModel):
    """A class of service."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    allowed: list[DestinationKind]
    """Sorted, so responses are stable."""
    version: int
    created_at: datetime
    updated_at: datetime

    @field_validator("allowed", mode="before")
    @classmethod
    def _sorted(cls, value: object) -> object:
        if isinstance(value, set | frozenset):
            return sorted(value)
        return value


class ClassesOfServicePublic(BaseModel):
    """A page of classes of service."""

    data: list[ClassOfServicePublic]
    count: int

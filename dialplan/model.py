"""Numbering-plan value types: the rows the plan compiler consumes.

These frozen dataclasses are the only shape in which numbering-plan data crosses from
storage (SQLAlchemy) into the pure engine. Storage converts its ORM objects into a
`PlanRows` value; `dialplan.engine.compile_plan` validates it and builds the immutable
`NumberingPlan` that the SIP core routes with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "EMERGENCY_NUMBERS",
    "ClassOfServiceRow",
    "DestinationKind",
    "DialRuleRow",
    "ExtensionRow",
    "NumberBlockRow",
    "PlanRows",
    "ShortNumberRow",
    "SiteRow",
    "TrunkRow",
    "UnitKind",
    "UnitRow",
]

#: China's public emergency numbers: police, fire, ambulance, traffic accidents.
#: Always reachable whatever the caller's class of service.
EMERGENCY_NUMBERS: frozenset[str] = frozenset({"110", "119", "120", "122"})


class UnitKind(StrEnum):
    """Level of an organisation unit in the county tree."""

    COUNTY = "county"
    TOWNSHIP = "township"
    DEPARTMENT = "department"
    SUB_UNIT = "sub_unit"


class DestinationKind(StrEnum):
    """What a dial rule leads to; classes of service allow or deny these kinds."""

    EXTENSION = "extension"
    SHORT_NUMBER = "short_number"
    EMERGENCY = "emergency"
    EXTERNAL_LOCAL = "external_local"
    EXTERNAL_NATIONAL = "external_national"
    EXTERNAL_INTERNATIONAL = "external_international"
    CONFERENCE = "conference"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class UnitRow:
    id: int
    parent_id: int | None
    name: str
    code: str
    kind: UnitKind


@dataclass(frozen=True, slots=True)
class SiteRow:
    id: int
    unit_id: int
    name: str
    priority: bool
    """Priority sites may make video calls."""
    bandwidth_class: str


@dataclass(frozen=True, slots=True)
class NumberBlockRow:
    id: int
    unit_id: int
    first: str
    """First number of the block, a digit string, e.g. ``"8000"``."""
    last: str
    """Last number of the block, same length as ``first``, e.g. ``"8199"``."""


@dataclass(frozen=True, slots=True)
class ClassOfServiceRow:
    id: int
    name: str
    allowed: frozenset[DestinationKind]


@dataclass(frozen=True, slots=True)
class ExtensionRow:
    id: int
    number: str
    display_name: str
    unit_id: int
    site_id: int | None
    class_of_service_id: int
    enabled: bool
    ha1_md5: str
    """hex MD5(number:realm:password), RFC 7616 §3.4.2."""
    ha1_sha256: str
    """hex SHA-256(number:realm:password), RFC 7616 §3.4.2 / RFC 8760."""
    forward_unconditional: str | None = None
    forward_busy: str | None = None
    forward_no_answer: str | None = None
    no_answer_seconds: int = 20


@dataclass(frozen=True, slots=True)
class ShortNumberRow:
    id: int
    short_code: str
    mobile_e164: str
    """Full mobile number in E.164, e.g. ``"+8613800000001"``."""
    person_name: str
    unit_id: int
    desk_extension: str | None = None


@dataclass(frozen=True, slots=True)
class TrunkRow:
    id: int
    name: str
    enabled: bool = True
    host: str = ""
    port: int = 5060
    transport: str = "udp"


@dataclass(frozen=True, slots=True)
class DialRuleRow:
    id: int
    priority: int
    """Lower value is tried first; unique within the plan."""
    pattern: str
    """Digits over ``0-9*#+`` with wildcards ``X`` (any digit), ``N`` (2-9), ``Z`` (1-9),
    ``[1-5]`` ranges and a final ``.`` (one or more of anything), Asterisk-style."""
    min_length: int
    max_length: int
    destination: DestinationKind
    trunk_id: int | None = None
    strip: int = 0
    """Number of leading digits removed before ``prepend`` is added."""
    prepend: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class PlanRows:
    """Everything the compiler needs, as read from storage in one transaction."""

    realm: str
    units: tuple[UnitRow, ...] = ()
    sites: tuple[SiteRow, ...] = ()
    blocks: tuple[NumberBlockRow, ...] = ()
    classes_of_service: tuple[ClassOfServiceRow, ...] = ()
    extensions: tuple[ExtensionRow, ...] = ()
    short_numbers: tuple[ShortNumberRow, ...] = ()
    trunks: tuple[TrunkRow, ...] = ()
    rules: tuple[DialRuleRow, ...] = ()
    version: int = 0
    emergency_numbers: frozenset[str] = field(default=EMERGENCY_NUMBERS)

"""ORM object → frozen record conversions; the only way data leaves a service."""

from __future__ import annotations

from dialplan.storage._fields import copy_fields, destination_kinds
from dialplan.storage.models import (
    ApiKey,
    AuditLog,
    ClassOfService,
    DialRule,
    Extension,
    NumberBlock,
    OrganisationUnit,
    ShortNumber,
    Site,
    Trunk,
)
from dialplan.storage.records import (
    ApiKeyRecord,
    AuditRecord,
    BlockRecord,
    ClassOfServiceRecord,
    DialRuleRecord,
    ExtensionRecord,
    ShortNumberRecord,
    SiteRecord,
    TrunkRecord,
    UnitRecord,
)

__all__ = [
    "api_key_record",
    "audit_record",
    "block_record",
    "class_of_service_record",
    "dial_rule_record",
    "extension_record",
    "short_number_record",
    "site_record",
    "trunk_record",
    "unit_record",
]


def unit_record(unit: OrganisationUnit) -> UnitRecord:
    """Convert an organisation unit."""
    return copy_fields(UnitRecord, unit)


def site_record(site: Site) -> SiteRecord:
    """Convert a site."""
    return copy_fields(SiteRecord, site)


def block_record(block: NumberBlock) -> BlockRecord:
    """Convert a number block."""
    return copy_fields(BlockRecord, block)


def class_of_service_record(cos: ClassOfService) -> ClassOfServiceRecord:
    """Convert a class of service."""
    return copy_fields(ClassOfServiceRecord, cos, allowed=destination_kinds(cos.allowed))


def extension_record(extension: Extension) -> ExtensionRecord:
    """Convert an extension, leaving its HA1 values behind."""
    return copy_fields(ExtensionRecord, extension)


def short_number_record(short: ShortNumber) -> ShortNumberRecord:
    """Convert a short number."""
    return copy_fields(ShortNumberRecord, short)


def trunk_record(trunk: Trunk) -> TrunkRecord:
    """Convert a trunk."""
    return copy_fields(TrunkRecord, trunk)


def dial_rule_record(rule: DialRule) -> DialRuleRecord:
    """Convert a dial rule."""
    return copy_fields(DialRuleRecord, rule)


def api_key_record(key: ApiKey) -> ApiKeyRecord:
    """Convert an API key, leaving its hash behind."""
    return copy_fields(ApiKeyRecord, key)


def audit_record(entry: AuditLog) -> AuditRecord:
    """Convert an audit-log row."""
    return copy_fields(AuditRecord, entry)

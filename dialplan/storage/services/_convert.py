"""ORM object → frozen record conversions; the only way data leaves a service."""

from __future__ import annotations

from dialplan.model import DestinationKind
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
    return UnitRecord(
        id=unit.id,
        parent_id=unit.parent_id,
        name=unit.name,
        code=unit.code,
        kind=unit.kind,
        version=unit.version,
        created_at=unit.created_at,
        updated_at=unit.updated_at,
    )


def site_record(site: Site) -> SiteRecord:
    """Convert a site."""
    return SiteRecord(
        id=site.id,
        unit_id=site.unit_id,
        name=site.name,
        priority=site.priority,
        bandwidth_class=site.bandwidth_class,
        version=site.version,
        created_at=site.created_at,
        updated_at=site.updated_at,
    )


def block_record(block: NumberBlock) -> BlockRecord:
    """Convert a number block."""
    return BlockRecord(
        id=block.id,
        unit_id=block.unit_id,
        first=block.first,
        last=block.last,
        version=block.version,
        created_at=block.created_at,
        updated_at=block.updated_at,
    )


def class_of_service_record(cos: ClassOfService) -> ClassOfServiceRecord:
    """Convert a class of service."""
    return ClassOfServiceRecord(
        id=cos.id,
        name=cos.name,
        allowed=frozenset(DestinationKind(kind) for kind in cos.allowed),
        version=cos.version,
        created_at=cos.created_at,
        updated_at=cos.updated_at,
    )


def extension_record(extension: Extension) -> ExtensionRecord:
    """Convert an extension, leaving its HA1 values behind."""
    return ExtensionRecord(
        id=extension.id,
        number=extension.number,
        display_name=extension.display_name,
        unit_id=extension.unit_id,
        site_id=extension.site_id,
        class_of_service_id=extension.class_of_service_id,
        enabled=extension.enabled,
        forward_unconditional=extension.forward_unconditional,
        forward_busy=extension.forward_busy,
        forward_no_answer=extension.forward_no_answer,
        no_answer_seconds=extension.no_answer_seconds,
        version=extension.version,
        created_at=extension.created_at,
        updated_at=extension.updated_at,
    )


def short_number_record(short: ShortNumber) -> ShortNumberRecord:
    """Convert a short number."""
    return ShortNumberRecord(
        id=short.id,
        short_code=short.short_code,
        mobile_e164=short.mobile_e164,
        person_name=short.person_name,
        unit_id=short.unit_id,
        desk_extension=short.desk_extension,
        version=short.version,
        created_at=short.created_at,
        updated_at=short.updated_at,
    )


def trunk_record(trunk: Trunk) -> TrunkRecord:
    """Convert a trunk."""
    return TrunkRecord(
        id=trunk.id,
        name=trunk.name,
        host=trunk.host,
        port=trunk.port,
        transport=trunk.transport,
        enabled=trunk.enabled,
        version=trunk.version,
        created_at=trunk.created_at,
        updated_at=trunk.updated_at,
    )


def dial_rule_record(rule: DialRule) -> DialRuleRecord:
    """Convert a dial rule."""
    return DialRuleRecord(
        id=rule.id,
        priority=rule.priority,
        pattern=rule.pattern,
        min_length=rule.min_length,
        max_length=rule.max_length,
        destination=rule.destination,
        trunk_id=rule.trunk_id,
        strip=rule.strip,
        prepend=rule.prepend,
        description=rule.description,
        version=rule.version,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def api_key_record(key: ApiKey) -> ApiKeyRecord:
    """Convert an API key, leaving its hash behind."""
    return ApiKeyRecord(
        id=key.id,
        name=key.name,
        role=key.role,
        prefix=key.prefix,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def audit_record(entry: AuditLog) -> AuditRecord:
    """Convert an audit-log row."""
    return AuditRecord(
        id=entry.id,
        at=entry.at,
        api_key_id=entry.api_key_id,
        api_key_name=entry.api_key_name,
        action=entry.action,
        object_kind=entry.object_kind,
        object_id=entry.object_id,
        before=entry.before,
        after=entry.after,
    )

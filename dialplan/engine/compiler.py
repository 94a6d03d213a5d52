"""compile_plan: validate plan rows once and build the immutable numbering plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from dialplan.engine.exceptions import PlanError
from dialplan.engine.index import build_index
from dialplan.engine.info import (
    DialRule,
    EmergencyTarget,
    ExactTarget,
    ExtensionInfo,
    ShortNumberInfo,
    ShortNumberTarget,
    TrunkInfo,
)
from dialplan.engine.plan import NumberingPlan, PlanStats
from dialplan.engine.validation import CheckedRows, check_rows
from dialplan.model import DestinationKind, PlanRows

__all__ = ["compile_plan"]


def compile_plan(rows: PlanRows) -> NumberingPlan:
    """Validate ``rows`` and build the plan the router uses.

    Raise :class:`PlanError` listing every problem found; nothing is built then. Run it
    beside the live plan and swap references only on success (STYLE.md §3).
    """
    checked = check_rows(rows)
    if checked.problems:
        raise PlanError(checked.problems)
    trunks = {
        trunk.id: TrunkInfo(
            id=trunk.id,
            name=trunk.name,
            enabled=trunk.enabled,
            host=trunk.host,
            port=trunk.port,
            transport=trunk.transport,
        )
        for trunk in rows.trunks
    }
    rules = _rules(rows, checked, trunks)
    extensions = _extensions(rows, checked)
    short_numbers = _short_numbers(rows, checked, rules)
    emergency = {number: _emergency(number, rules) for number in sorted(rows.emergency_numbers)}
    exact: dict[str, ExactTarget] = {**extensions, **short_numbers, **emergency}
    index = build_index(exact, rules)
    stats = PlanStats(
        units=len(rows.units),
        sites=len(rows.sites),
        blocks=len(rows.blocks),
        extensions=len(extensions),
        enabled_extensions=sum(1 for extension in extensions.values() if extension.enabled),
        short_numbers=len(short_numbers),
        trunks=len(trunks),
        rules=len(rules),
        index_states=index.size,
    )
    return NumberingPlan(
        realm=rows.realm,
        version=rows.version,
        rules=rules,
        stats=stats,
        index=index,
        extensions=MappingProxyType(extensions),
        short_numbers=MappingProxyType(short_numbers),
        emergency=MappingProxyType(emergency),
        mobiles=MappingProxyType(
            {target.info.mobile_e164: target.info for target in short_numbers.values()}
        ),
        trunks_by_name=MappingProxyType({trunk.name: trunk for trunk in trunks.values()}),
        trunks_by_id=MappingProxyType(trunks),
    )


def _rules(
    rows: PlanRows, checked: CheckedRows, trunks: Mapping[int, TrunkInfo]
) -> tuple[DialRule, ...]:
    ordered = sorted(rows.rules, key=lambda rule: rule.priority)
    return tuple(
        DialRule(
            id=rule.id,
            priority=rule.priority,
            pattern=checked.patterns[rule.id],
            min_length=rule.min_length,
            max_length=rule.max_length,
            destination=rule.destination,
            trunk=None if rule.trunk_id is None else trunks[rule.trunk_id],
            strip=rule.strip,
            prepend=rule.prepend,
            description=rule.description,
        )
        for rule in ordered
    )


def _extensions(rows: PlanRows, checked: CheckedRows) -> dict[str, ExtensionInfo]:
    extensions: dict[str, ExtensionInfo] = {}
    for row in rows.extensions:
        site = None if row.site_id is None else checked.sites[row.site_id]
        service = checked.classes_of_service[row.class_of_service_id]
        extensions[row.number] = ExtensionInfo(
            number=row.number,
            display_name=row.display_name,
            unit_name=checked.units[row.unit_id].name,
            site_name=None if site is None else site.name,
            priority_site=site is not None and site.priority,
            enabled=row.enabled,
            ha1_md5=row.ha1_md5,
            ha1_sha256=row.ha1_sha256,
            class_of_service=service.name,
            allowed_kinds=service.allowed,
            forward_unconditional=row.forward_unconditional,
            forward_busy=row.forward_busy,
            forward_no_answer=row.forward_no_answer,
            no_answer_seconds=row.no_answer_seconds,
        )
    return extensions


def _short_numbers(
    rows: PlanRows, checked: CheckedRows, rules: Sequence[DialRule]
) -> dict[str, ShortNumberTarget]:
    carriers = [rule for rule in rules if rule.destination is DestinationKind.SHORT_NUMBER]
    targets: dict[str, ShortNumberTarget] = {}
    for row in rows.short_numbers:
        # Validation guarantees a short-number rule with a trunk once short numbers exist.
        rule = _first_matching(carriers, row.short_code) or carriers[0]
        info = ShortNumberInfo(
            short_code=row.short_code,
            mobile_e164=row.mobile_e164,
            person_name=row.person_name,
            unit_name=checked.units[row.unit_id].name,
            desk_extension=row.desk_extension,
        )
        targets[row.short_code] = ShortNumberTarget(info=info, rule=rule)
    return targets


def _emergency(number: str, rules: Sequence[DialRule]) -> EmergencyTarget:
    # Emergency calls must not fail on a disabled trunk while another emergency rule
    # has an enabled one, so only rules with enabled trunks are candidates.
    candidates = [
        rule
        for rule in rules
        if rule.destination is DestinationKind.EMERGENCY
        and rule.trunk is not None
        and rule.trunk.enabled
    ]
    matching = _first_matching(candidates, number)
    if matching is not None:
        return EmergencyTarget(number=number, rule=matching, pattern_matched=True)
    first = candidates[0] if candidates else None
    return EmergencyTarget(number=number, rule=first, pattern_matched=False)


def _first_matching(rules: Sequence[DialRule], number: str) -> DialRule | None:
    for rule in rules:
        if rule.accepts_length(len(number)) and rule.pattern.matches(number):
            return rule
    return None

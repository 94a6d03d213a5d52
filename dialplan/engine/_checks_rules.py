"""Checks of dial rules: patterns, lengths, priorities, trunks and digit manipulation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from dialplan.engine._alphabet import is_prepend, quote
from dialplan.engine._report import Report
from dialplan.engine.exceptions import PatternError
from dialplan.engine.pattern import Pattern, parse_pattern
from dialplan.model import DestinationKind, DialRuleRow, TrunkRow

__all__ = ["TRUNK_KINDS", "check_rules"]

#: Destinations that leave the county network and so need a carrier trunk.
TRUNK_KINDS: Final = frozenset(
    {
        DestinationKind.SHORT_NUMBER,
        DestinationKind.EMERGENCY,
        DestinationKind.EXTERNAL_LOCAL,
        DestinationKind.EXTERNAL_NATIONAL,
        DestinationKind.EXTERNAL_INTERNATIONAL,
    }
)


def check_rules(
    rows: Iterable[DialRuleRow],
    *,
    trunks: Mapping[int, TrunkRow],
    short_numbers: int,
    report: Report,
) -> dict[int, Pattern]:
    """Check dial rules; return the parsed pattern of every rule whose pattern parses.

    ``short_numbers`` counts the valid short numbers: if there are any, some
    short-number rule must name the trunk their calls leave by.
    """
    patterns: dict[int, Pattern] = {}
    priority_owner: dict[int, int] = {}
    short_number_trunk = False
    for rule in rows:
        this = f"dial rule #{rule.id}"
        report.check_text(rule.description, "description", "dial_rule", rule.id, this)
        pattern = _parse(rule, this, report)
        if pattern is not None:
            patterns[rule.id] = pattern
        lengths_valid = _check_lengths(rule, pattern, this, report)
        if rule.priority in priority_owner:
            report.add(
                "duplicate_priority",
                "dial_rule",
                rule.id,
                f"{this}: priority {rule.priority} is also used by "
                f"dial rule #{priority_owner[rule.priority]}",
            )
        else:
            priority_owner[rule.priority] = rule.id
        if rule.trunk_id is not None and rule.trunk_id not in trunks:
            report.unknown("dial_rule", rule.id, this, "trunk", rule.trunk_id)
        elif rule.trunk_id is None and rule.destination in TRUNK_KINDS:
            report.add(
                "missing_trunk",
                "dial_rule",
                rule.id,
                f"{this}: destination {rule.destination.value} needs a trunk",
            )
        elif rule.destination is DestinationKind.SHORT_NUMBER:
            short_number_trunk = True
        _check_digit_manipulation(rule, lengths_valid, this, report)
    if short_numbers and not short_number_trunk:
        report.add(
            "missing_short_number_rule",
            "dial_rule",
            None,
            f"{short_numbers} short number(s) exist but no dial rule of kind short_number "
            "names the trunk their calls leave by",
        )
    return patterns


def _parse(rule: DialRuleRow, this: str, report: Report) -> Pattern | None:
    try:
        return parse_pattern(rule.pattern)
    except PatternError as error:
        report.add("pattern", "dial_rule", rule.id, f"{this}: {error}")
        return None


def _check_lengths(rule: DialRuleRow, pattern: Pattern | None, this: str, report: Report) -> bool:
    """Check min_length and max_length; return whether they form a valid range."""
    if rule.min_length < 1:
        report.add(
            "length_range",
            "dial_rule",
            rule.id,
            f"{this}: min_length {rule.min_length} must be at least 1",
        )
        return False
    if rule.min_length > rule.max_length:
        report.add(
            "length_range",
            "dial_rule",
            rule.id,
            f"{this}: min_length {rule.min_length} exceeds max_length {rule.max_length}",
        )
        return False
    if pattern is None:
        return True
    longest = pattern.longest
    if pattern.shortest > rule.max_length or (longest is not None and longest < rule.min_length):
        matches = (
            f"numbers of {pattern.shortest} or more characters"
            if longest is None
            else f"only {longest}-character numbers"
        )
        # Such a rule can never fire; it is almost always a typo in one of the three.
        report.add(
            "unreachable_rule",
            "dial_rule",
            rule.id,
            f"{this}: pattern '{pattern.text}' matches {matches}, never within "
            f"min_length {rule.min_length} to max_length {rule.max_length}",
        )
    return True


def _check_digit_manipulation(
    rule: DialRuleRow, lengths_valid: bool, this: str, report: Report
) -> None:
    if rule.strip < 0:
        report.add(
            "digit_manipulation",
            "dial_rule",
            rule.id,
            f"{this}: strip {rule.strip} is negative",
        )
    elif lengths_valid and not rule.prepend and rule.strip >= rule.min_length:
        report.add(
            "digit_manipulation",
            "dial_rule",
            rule.id,
            f"{this}: strip {rule.strip} leaves nothing of a "
            f"{rule.min_length}-character number and prepend is empty",
        )
    if not is_prepend(rule.prepend):
        report.add(
            "digit_manipulation",
            "dial_rule",
            rule.id,
            f"{this}: prepend {quote(rule.prepend)} may only hold up to 32 of 0-9, *, # and +",
        )

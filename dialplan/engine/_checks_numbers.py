"""Checks of the numbers people dial exactly: extensions and short numbers."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from dialplan.engine._alphabet import is_dial_string, is_digits, is_e164, quote
from dialplan.engine._report import Report, block_label, unit_label
from dialplan.model import (
    ClassOfServiceRow,
    ExtensionRow,
    NumberBlockRow,
    ShortNumberRow,
    SiteRow,
    UnitRow,
)

__all__ = [
    "NO_ANSWER_SECONDS",
    "NUMBER_LENGTHS",
    "SHORT_CODE_LENGTHS",
    "check_extensions",
    "check_short_numbers",
]

#: Extension numbers and block bounds: 2 to 16 digits, as dialplan.storage enforces.
NUMBER_LENGTHS: Final = range(2, 17)
#: Carrier group short numbers ("集团短号") are 3 to 6 digits.
SHORT_CODE_LENGTHS: Final = range(3, 7)
#: Ringing time before no-answer forwarding, as dialplan.storage enforces.
NO_ANSWER_SECONDS: Final = range(5, 301)


class _BlockIndex:
    """Well-formed, sorted blocks per number length, for a binary search per number."""

    def __init__(self, blocks: Sequence[NumberBlockRow]) -> None:
        self._blocks: dict[int, list[NumberBlockRow]] = {}
        for block in sorted(blocks, key=lambda block: (block.first, block.id)):
            self._blocks.setdefault(len(block.first), []).append(block)
        self._firsts = {
            length: [block.first for block in same] for length, same in self._blocks.items()
        }

    def containing(self, number: str) -> NumberBlockRow | None:
        same = self._blocks.get(len(number), [])
        index = bisect_right(self._firsts.get(len(number), []), number) - 1
        if index >= 0 and number <= same[index].last:
            return same[index]
        return None


def check_extensions(
    rows: Iterable[ExtensionRow],
    *,
    units: Mapping[int, UnitRow],
    sites: Mapping[int, SiteRow],
    classes: Mapping[int, ClassOfServiceRow],
    blocks: Sequence[NumberBlockRow],
    emergency: frozenset[str],
    report: Report,
) -> dict[str, ExtensionRow]:
    """Check extension rows; return the well-formed ones with unique numbers."""
    index = _BlockIndex(blocks)
    numbers: dict[str, ExtensionRow] = {}
    for row in rows:
        well_formed = is_digits(row.number) and len(row.number) in NUMBER_LENGTHS
        this = f"extension {row.number}" if well_formed else f"extension #{row.id}"
        report.check_text(row.display_name, "display name", "extension", row.id, this)
        unit = units.get(row.unit_id)
        if unit is None:
            report.unknown("extension", row.id, this, "unit", row.unit_id)
        if row.site_id is not None and row.site_id not in sites:
            report.unknown("extension", row.id, this, "site", row.site_id)
        if row.class_of_service_id not in classes:
            report.unknown("extension", row.id, this, "class of service", row.class_of_service_id)
        _check_forwarding(row, this, report)
        if not well_formed:
            report.add(
                "number_format",
                "extension",
                row.id,
                f"{this}: number {quote(row.number)} must be 2 to 16 digits",
            )
        elif row.number in emergency:
            report.add(
                "emergency_collision",
                "extension",
                row.id,
                f"{this} is an emergency number",
            )
        elif row.number in numbers:
            report.add(
                "duplicate_number",
                "extension",
                row.id,
                f"{this} is defined twice (extension #{numbers[row.number].id} and #{row.id})",
            )
        else:
            numbers[row.number] = row
            if unit is not None:
                _check_in_own_block(row, unit, this, index, units, report)
    return numbers


def _check_forwarding(row: ExtensionRow, this: str, report: Report) -> None:
    targets = (
        ("forward_unconditional", row.forward_unconditional),
        ("forward_busy", row.forward_busy),
        ("forward_no_answer", row.forward_no_answer),
    )
    for name, target in targets:
        if target is not None and not is_dial_string(target):
            report.add(
                "forward_target",
                "extension",
                row.id,
                f"{this}: {name} target {quote(target)} is not a dial string "
                "(an optional +, then 1 to 32 of 0-9, * and #)",
            )
    if row.no_answer_seconds not in NO_ANSWER_SECONDS:
        report.add(
            "no_answer_seconds",
            "extension",
            row.id,
            f"{this}: no_answer_seconds {row.no_answer_seconds} is not between 5 and 300",
        )


def _check_in_own_block(
    row: ExtensionRow,
    unit: UnitRow,
    this: str,
    index: _BlockIndex,
    units: Mapping[int, UnitRow],
    report: Report,
) -> None:
    block = index.containing(row.number)
    if block is None:
        report.add(
            "outside_block",
            "extension",
            row.id,
            f"{this} is not inside any number block of {unit_label(unit)}",
        )
    elif block.unit_id != unit.id:
        owner = units.get(block.unit_id)
        owner_label = f"unit #{block.unit_id}" if owner is None else unit_label(owner)
        report.add(
            "outside_block",
            "extension",
            row.id,
            f"{this} lies in {block_label(block)} of {owner_label}, "
            f"not in a block of its own {unit_label(unit)}",
        )


def check_short_numbers(
    rows: Iterable[ShortNumberRow],
    *,
    units: Mapping[int, UnitRow],
    extensions: Mapping[str, ExtensionRow],
    emergency: frozenset[str],
    report: Report,
) -> dict[str, ShortNumberRow]:
    """Check short-number rows; return the well-formed ones with unique codes."""
    codes: dict[str, ShortNumberRow] = {}
    mobile_owner: dict[str, str] = {}
    for row in rows:
        well_formed = is_digits(row.short_code) and len(row.short_code) in SHORT_CODE_LENGTHS
        this = f"short number {row.short_code}" if well_formed else f"short number #{row.id}"
        report.check_text(row.person_name, "person name", "short_number", row.id, this)
        if row.unit_id not in units:
            report.unknown("short_number", row.id, this, "unit", row.unit_id)
        if row.desk_extension is not None and row.desk_extension not in extensions:
            report.add(
                "unknown_reference",
                "short_number",
                row.id,
                f"{this}: desk extension {quote(row.desk_extension)} does not exist",
            )
        if not is_e164(row.mobile_e164):
            report.add(
                "mobile_format",
                "short_number",
                row.id,
                f"{this}: mobile {quote(row.mobile_e164)} is not an E.164 number "
                "such as +8613800000001",
            )
        elif row.mobile_e164 in mobile_owner:
            report.add(
                "duplicate_mobile",
                "short_number",
                row.id,
                f"{this}: mobile {row.mobile_e164} also belongs to {mobile_owner[row.mobile_e164]}",
            )
        else:
            mobile_owner[row.mobile_e164] = this
        _check_code(row, well_formed, this, codes, extensions, emergency, report)
    return codes


def _check_code(
    row: ShortNumberRow,
    well_formed: bool,
    this: str,
    codes: dict[str, ShortNumberRow],
    extensions: Mapping[str, ExtensionRow],
    emergency: frozenset[str],
    report: Report,
) -> None:
    code = row.short_code
    if not well_formed:
        report.add(
            "number_format",
            "short_number",
            row.id,
            f"{this}: code {quote(code)} must be 3 to 6 digits",
        )
    elif code in emergency:
        report.add("emergency_collision", "short_number", row.id, f"{this} is an emergency number")
    elif code in extensions:
        report.add(
            "number_collision",
            "short_number",
            row.id,
            f"{this} collides with extension {code}",
        )
    elif code in codes:
        report.add(
            "duplicate_number",
            "short_number",
            row.id,
            f"{this} is defined twice (short number #{codes[code].id} and #{row.id})",
        )
    else:
        codes[code] = row

"""Validation of plan rows: every problem, in a stable order, before anything is built.

The checks run table by table in the order of :class:`~dialplan.model.PlanRows`
(realm, units, sites, classes of service, trunks, blocks, extensions, short numbers,
rules). A check skips a value an earlier check already refused, so one fault yields
one message: an extension whose unit does not exist is not also reported as lying
outside its unit's blocks. :func:`check_rows` also hands the compiler what it parsed
on the way (rows by id, rule patterns), so nothing is parsed twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from dialplan.engine._alphabet import has_control_character, is_digits, quote
from dialplan.engine._checks_numbers import NUMBER_LENGTHS, check_extensions, check_short_numbers
from dialplan.engine._checks_rules import check_rules
from dialplan.engine._report import Report, block_label, site_label, unit_label
from dialplan.engine.exceptions import PlanProblem
from dialplan.engine.pattern import Pattern
from dialplan.model import (
    ClassOfServiceRow,
    NumberBlockRow,
    PlanRows,
    SiteRow,
    TrunkRow,
    UnitRow,
)

__all__ = ["CheckedRows", "check_rows"]


@dataclass(frozen=True, slots=True)
class CheckedRows:
    """The outcome of :func:`check_rows`: problems, and the rows indexed for building."""

    problems: tuple[PlanProblem, ...]
    units: dict[int, UnitRow] = field(default_factory=dict)
    sites: dict[int, SiteRow] = field(default_factory=dict)
    classes_of_service: dict[int, ClassOfServiceRow] = field(default_factory=dict)
    trunks: dict[int, TrunkRow] = field(default_factory=dict)
    blocks: dict[int, NumberBlockRow] = field(default_factory=dict)
    patterns: dict[int, Pattern] = field(default_factory=dict)


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


_Row = TypeVar("_Row", bound=_HasId)


def check_rows(rows: PlanRows) -> CheckedRows:
    """Check ``rows``; return every problem found and the rows indexed by id."""
    report = Report()
    _check_plan(rows, report)
    units = _by_id(rows.units, "unit", report)
    sites = _by_id(rows.sites, "site", report)
    classes = _by_id(rows.classes_of_service, "class_of_service", report)
    trunks = _by_id(rows.trunks, "trunk", report)
    blocks = _by_id(rows.blocks, "number_block", report)
    _check_units(units, report)
    _check_sites(sites, units, report)
    _check_unique_names(classes.values(), "class_of_service", report)
    _check_unique_names(trunks.values(), "trunk", report)
    good_blocks = _check_blocks(blocks, units, report)
    extension_rows = _by_id(rows.extensions, "extension", report)
    short_rows = _by_id(rows.short_numbers, "short_number", report)
    extensions = check_extensions(
        extension_rows.values(),
        units=units,
        sites=sites,
        classes=classes,
        blocks=good_blocks,
        emergency=rows.emergency_numbers,
        report=report,
    )
    short_codes = check_short_numbers(
        short_rows.values(),
        units=units,
        extensions=extensions,
        emergency=rows.emergency_numbers,
        report=report,
    )
    patterns = check_rules(
        _by_id(rows.rules, "dial_rule", report).values(),
        trunks=trunks,
        short_numbers=len(short_codes),
        report=report,
    )
    return CheckedRows(
        problems=tuple(report.problems),
        units=units,
        sites=sites,
        classes_of_service=classes,
        trunks=trunks,
        blocks=blocks,
        patterns=patterns,
    )


def _check_plan(rows: PlanRows, report: Report) -> None:
    if not rows.realm or has_control_character(rows.realm) or " " in rows.realm:
        report.add(
            "realm", "plan", None, f"realm {quote(rows.realm)} must be non-empty, without spaces"
        )
    for number in sorted(rows.emergency_numbers):
        if not is_digits(number):
            report.add(
                "emergency_number",
                "plan",
                None,
                f"emergency number {quote(number)} is not a digit string",
            )


def _by_id(rows: Sequence[_Row], object_kind: str, report: Report) -> dict[int, _Row]:
    """Index ``rows`` by id, keeping the first of rows that share an id."""
    indexed: dict[int, _Row] = {}
    for row in rows:
        if row.id in indexed:
            noun = object_kind.replace("_", " ")
            report.add(
                "duplicate_id", object_kind, row.id, f"{noun} id {row.id} is used by two rows"
            )
        else:
            indexed[row.id] = row
    return indexed


def _check_units(units: dict[int, UnitRow], report: Report) -> None:
    for unit in units.values():
        report.check_text(unit.name, "name", "unit", unit.id, unit_label(unit))
        if unit.parent_id is not None and unit.parent_id not in units:
            report.unknown("unit", unit.id, unit_label(unit), "parent unit", unit.parent_id)
    finished: set[int] = set()
    for start in sorted(units):
        path: list[int] = []
        position: dict[int, int] = {}
        node: int | None = start
        while node is not None and node in units and node not in finished:
            if node in position:
                _report_cycle(path[position[node] :], units, report)
                break
            position[node] = len(path)
            path.append(node)
            node = units[node].parent_id
        finished.update(path)


def _report_cycle(cycle: list[int], units: dict[int, UnitRow], report: Report) -> None:
    # Start the cycle at its smallest id, so the message does not depend on row order.
    first = cycle.index(min(cycle))
    ordered = cycle[first:] + cycle[:first] + [cycle[first]]
    chain = " -> ".join(unit_label(units[unit_id]) for unit_id in ordered)
    report.add("unit_cycle", "unit", ordered[0], f"units form a cycle: {chain}")


def _check_sites(sites: dict[int, SiteRow], units: dict[int, UnitRow], report: Report) -> None:
    for site in sites.values():
        report.check_text(site.name, "name", "site", site.id, site_label(site))
        if site.unit_id not in units:
            report.unknown("site", site.id, site_label(site), "unit", site.unit_id)


class _Named(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...


def _check_unique_names(rows: Iterable[_Named], object_kind: str, report: Report) -> None:
    # Operators and the router name these by name, so a name must pick out one row.
    owner: dict[str, int] = {}
    noun = object_kind.replace("_", " ")
    for row in rows:
        this = f"{noun} #{row.id} {quote(row.name)}"
        report.check_text(row.name, "name", object_kind, row.id, this)
        if row.name in owner:
            report.add(
                "duplicate_name",
                object_kind,
                row.id,
                f"{this}: name is also used by {noun} #{owner[row.name]}",
            )
        else:
            owner[row.name] = row.id


def _check_blocks(
    blocks: dict[int, NumberBlockRow], units: dict[int, UnitRow], report: Report
) -> list[NumberBlockRow]:
    """Check blocks; return the well-formed ones, for the extension checks."""
    good: list[NumberBlockRow] = []
    for block in blocks.values():
        this = f"number block #{block.id}"
        if block.unit_id not in units:
            report.unknown("number_block", block.id, this, "unit", block.unit_id)
        if not (
            is_digits(block.first)
            and len(block.first) == len(block.last)
            and len(block.first) in NUMBER_LENGTHS
            and is_digits(block.last)
        ):
            report.add(
                "block_format",
                "number_block",
                block.id,
                f"{this}: first {quote(block.first)} and last {quote(block.last)} must be "
                "digit strings of equal length, 2 to 16 digits",
            )
        elif block.first > block.last:
            report.add(
                "block_order",
                "number_block",
                block.id,
                f"{this}: first {block.first} is after last {block.last}",
            )
        else:
            good.append(block)
    _check_overlaps(good, report)
    return good


def _check_overlaps(blocks: list[NumberBlockRow], report: Report) -> None:
    # Equal-length digit strings compare like the numbers they spell, so a sort and
    # one sweep find every block that starts before an earlier block has ended.
    ordered = sorted(blocks, key=lambda block: (len(block.first), block.first, block.id))
    reach: NumberBlockRow | None = None
    for block in ordered:
        if reach is not None and len(reach.first) == len(block.first):
            if block.first <= reach.last:
                report.add(
                    "block_overlap",
                    "number_block",
                    block.id,
                    f"{block_label(block)} overlaps {block_label(reach)}",
                )
            if block.last <= reach.last:
                continue
        reach = block

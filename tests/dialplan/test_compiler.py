"""compile_plan: validation of dial rules, units, names and the plan as a whole.

Covers: every dial-rule problem (pattern, length bounds, unreachable rules,
priorities, trunks, digit manipulation, control characters); the short-number rule
requirement; unit cycles and unknown parents; duplicate ids and names; control
characters in names; realm and emergency numbers; that all problems are reported
together in table order and joined in the error's message; the rule-complexity bound.

Leaves out: blocks, extensions and short numbers (test_compiler_numbers.py), the
compiled plan's accessors (test_plan.py), pattern syntax (test_pattern.py) and
arbitrary generated rows (test_properties.py).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from dialplan.engine import (
    DialplanError,
    NumberingPlan,
    PlanError,
    PlanProblem,
    compile_plan,
)
from dialplan.engine.index import build_index
from dialplan.model import (
    ClassOfServiceRow,
    DestinationKind,
    DialRuleRow,
    NumberBlockRow,
    PlanRows,
    SiteRow,
    TrunkRow,
    UnitKind,
    UnitRow,
)
from tests.dialplan.conftest import extension
from tests.dialplan.helpers import problems_of

D = DestinationKind


def with_rule(rows: PlanRows, **fields: object) -> PlanRows:
    values: dict[str, object] = {
        "id": 50,
        "priority": 500,
        "pattern": "5XXX",
        "min_length": 4,
        "max_length": 4,
        "destination": D.EXTERNAL_LOCAL,
        "trunk_id": 1,
    }
    values.update(fields)
    return replace(rows, rules=(*rows.rules, DialRuleRow(**values)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"pattern": "5X[1-"},
            ("pattern", "dial rule #50: pattern '5X[1-': '[' is never closed at position 3"),
        ),
        (
            {"min_length": 5, "max_length": 4},
            ("length_range", "dial rule #50: min_length 5 exceeds max_length 4"),
        ),
        (
            {"min_length": 0},
            ("length_range", "dial rule #50: min_length 0 must be at least 1"),
        ),
        (
            {"min_length": 5, "max_length": 8},
            (
                "unreachable_rule",
                "dial rule #50: pattern '5XXX' matches only 4-character numbers, "
                "never within min_length 5 to max_length 8",
            ),
        ),
        (
            {"pattern": "5X.", "min_length": 1, "max_length": 2},
            (
                "unreachable_rule",
                "dial rule #50: pattern '5X.' matches numbers of 3 or more characters, "
                "never within min_length 1 to max_length 2",
            ),
        ),
        (
            {"priority": 10},
            ("duplicate_priority", "dial rule #50: priority 10 is also used by dial rule #1"),
        ),
        ({"trunk_id": 9}, ("unknown_reference", "dial rule #50: trunk #9 does not exist")),
        (
            {"trunk_id": None},
            ("missing_trunk", "dial rule #50: destination external_local needs a trunk"),
        ),
        (
            {"destination": D.EMERGENCY, "trunk_id": None},
            ("missing_trunk", "dial rule #50: destination emergency needs a trunk"),
        ),
        ({"strip": -1}, ("digit_manipulation", "dial rule #50: strip -1 is negative")),
        (
            {"strip": 4},
            (
                "digit_manipulation",
                "dial rule #50: strip 4 leaves nothing of a 4-character number and prepend "
                "is empty",
            ),
        ),
        (
            {"prepend": "0a"},
            (
                "digit_manipulation",
                "dial rule #50: prepend '0a' may only hold up to 32 of 0-9, *, # and +",
            ),
        ),
        (
            {"description": "拒绝\r\nVia: evil"},
            ("control_character", "dial rule #50: description contains a control character"),
        ),
    ],
)
def test_compile_refuses_bad_dial_rule(
    rows: PlanRows, fields: dict[str, object], expected: tuple[str, str]
) -> None:
    kind, message = expected
    assert problems_of(with_rule(rows, **fields)) == [(kind, "dial_rule", 50, message)]


def test_strip_of_whole_number_is_fine_with_prepend(rows: PlanRows) -> None:
    # "0" for the operator: strip the 0 and ring the county switchboard 8001.
    plan = compile_plan(
        with_rule(
            rows,
            pattern="5",
            min_length=1,
            max_length=1,
            strip=1,
            prepend="8001",
            destination=D.EXTENSION,
            trunk_id=None,
        )
    )
    assert plan.rules[-1].transform("5") == "8001"


def test_compile_refuses_short_numbers_without_short_number_rule(rows: PlanRows) -> None:
    rules = tuple(rule for rule in rows.rules if rule.destination is not D.SHORT_NUMBER)
    assert problems_of(replace(rows, rules=rules)) == [
        (
            "missing_short_number_rule",
            "dial_rule",
            None,
            "3 short number(s) exist but no dial rule of kind short_number names the trunk "
            "their calls leave by",
        )
    ]


def test_compile_refuses_unit_cycle(rows: PlanRows) -> None:
    units = tuple(
        replace(unit, parent_id={4: 5, 5: 4}.get(unit.id, unit.parent_id)) for unit in rows.units
    )
    assert problems_of(replace(rows, units=units)) == [
        (
            "unit_cycle",
            "unit",
            4,
            "units form a cycle: unit #4 '城关镇' -> unit #5 '马头镇' -> unit #4 '城关镇'",
        )
    ]


def test_compile_refuses_unit_that_is_its_own_parent(rows: PlanRows) -> None:
    units = (*rows.units, UnitRow(8, 8, "自指", "self", UnitKind.SUB_UNIT))
    assert problems_of(replace(rows, units=units)) == [
        ("unit_cycle", "unit", 8, "units form a cycle: unit #8 '自指' -> unit #8 '自指'")
    ]


def test_compile_refuses_unknown_parent_and_site_unit(rows: PlanRows) -> None:
    units = (*rows.units, UnitRow(8, 42, "孤儿", "orphan", UnitKind.SUB_UNIT))
    sites = (*rows.sites, SiteRow(9, 43, "无主", priority=False, bandwidth_class="lan"))
    assert problems_of(replace(rows, units=units, sites=sites)) == [
        ("unknown_reference", "unit", 8, "unit #8 '孤儿': parent unit #42 does not exist"),
        ("unknown_reference", "site", 9, "site #9 '无主': unit #43 does not exist"),
    ]


def test_compile_refuses_duplicate_ids_and_names(rows: PlanRows) -> None:
    changed = replace(
        rows,
        units=(*rows.units, UnitRow(7, 1, "重复", "dup", UnitKind.DEPARTMENT)),
        classes_of_service=(*rows.classes_of_service, ClassOfServiceRow(5, "内线", frozenset())),
        trunks=(*rows.trunks, TrunkRow(3, "cm-county")),
    )
    assert problems_of(changed) == [
        ("duplicate_id", "unit", 7, "unit id 7 is used by two rows"),
        (
            "duplicate_name",
            "class_of_service",
            5,
            "class of service #5 '内线': name is also used by class of service #4",
        ),
        ("duplicate_name", "trunk", 3, "trunk #3 'cm-county': name is also used by trunk #1"),
    ]


def test_compile_refuses_control_characters_in_names(rows: PlanRows) -> None:
    changed = replace(
        rows,
        units=(*rows.units, UnitRow(8, 1, "新\r单位", "new", UnitKind.SUB_UNIT)),
        sites=(*rows.sites, SiteRow(9, 1, "新\u2028地点", priority=False, bandwidth_class="")),
    )
    assert problems_of(changed) == [
        ("control_character", "unit", 8, "unit #8 '新\\r单位': name contains a control character"),
        (
            "control_character",
            "site",
            9,
            "site #9 '新\\u2028地点': name contains a control character",
        ),
    ]


def test_ideographic_space_in_names_is_allowed(rows: PlanRows) -> None:
    row = extension(99, "8009", "张　三", 2, 2)
    assert compile_plan(replace(rows, extensions=(*rows.extensions, row))).extension("8009")


def test_compile_refuses_bad_realm_and_emergency_number(rows: PlanRows) -> None:
    changed = replace(rows, realm="", emergency_numbers=frozenset({"110", "1l9"}))
    assert problems_of(changed) == [
        ("realm", "plan", None, "realm '' must be non-empty, without spaces"),
        ("emergency_number", "plan", None, "emergency number '1l9' is not a digit string"),
    ]


def test_compile_reports_every_problem_in_table_order(rows: PlanRows) -> None:
    changed = replace(
        with_rule(rows, pattern="5[", priority=10),
        blocks=(*rows.blocks, NumberBlockRow(7, 4, "8599", "8500")),
        extensions=(*rows.extensions, extension(99, "8001", "重复", 2, 2)),
    )
    with pytest.raises(PlanError) as caught:
        compile_plan(changed)
    assert [problem.kind for problem in caught.value.problems] == [
        "block_order",
        "duplicate_number",
        "pattern",
        "duplicate_priority",
    ]
    assert str(caught.value) == (
        "number block #7: first 8599 is after last 8500; "
        "extension 8001 is defined twice (extension #1 and #99); "
        "dial rule #50: pattern '5[': '[' is never closed at position 2; "
        "dial rule #50: priority 10 is also used by dial rule #1"
    )
    assert isinstance(caught.value, DialplanError)
    assert caught.value.problems[0] == PlanProblem(
        "block_order", "number_block", 7, "number block #7: first 8599 is after last 8500"
    )


def test_compile_refuses_rules_too_complex_for_the_index(plan: NumberingPlan) -> None:
    with pytest.raises(PlanError) as caught:
        build_index({}, plan.rules, max_rule_states=5)
    assert caught.value.problems == (
        PlanProblem(
            "rules_too_complex",
            "dial_rule",
            None,
            "dial rules need more than 5 prefix-index states; merge overlapping wildcard patterns",
        ),
    )

"""compile_plan: validation of plan rows and the accessors of the compiled plan.

Covers: every validation problem the compiler reports, with its exact kind, object and
message (patterns, length bounds, priorities, trunks, blocks, block membership,
number uniqueness and collisions, references, unit cycles, forwarding targets, text
fields, the rule-complexity bound); that all problems are reported together in a
stable order; the compiled plan's accessors, statistics and immutability.

Leaves out: pattern syntax details (test_pattern.py), routing (test_engine.py) and
arbitrary generated rows (test_properties.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import pytest

from dialplan.engine import (
    DialplanError,
    NumberingPlan,
    PlanError,
    PlanProblem,
    TrunkInfo,
    compile_plan,
)
from dialplan.engine.index import build_index
from dialplan.model import (
    ClassOfServiceRow,
    DestinationKind,
    DialRuleRow,
    NumberBlockRow,
    PlanRows,
    ShortNumberRow,
    SiteRow,
    TrunkRow,
    UnitKind,
    UnitRow,
)
from tests.dialplan.conftest import extension

D = DestinationKind
Problem = tuple[str, str, int | None, str]


def problems_of(rows: PlanRows) -> list[Problem]:
    with pytest.raises(PlanError) as caught:
        compile_plan(rows)
    return [
        (problem.kind, problem.object_kind, problem.object_id, problem.message)
        for problem in caught.value.problems
    ]


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


def test_county_plan_compiles(plan: NumberingPlan) -> None:
    assert plan.realm == "pingan.gov.example"
    assert plan.version == 7


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


BLOCK_CASES = [
    (
        NumberBlockRow(7, 4, "8230", "8245"),
        [
            (
                "block_overlap",
                "number_block",
                7,
                "number block #7 (8230-8245) overlaps number block #3 (8200-8239)",
            ),
            (
                "block_overlap",
                "number_block",
                4,
                "number block #4 (8240-8279) overlaps number block #7 (8230-8245)",
            ),
        ],
    ),
    (
        NumberBlockRow(7, 4, "8260", "8270"),
        [
            (
                "block_overlap",
                "number_block",
                7,
                "number block #7 (8260-8270) overlaps number block #4 (8240-8279)",
            )
        ],
    ),
    (
        NumberBlockRow(7, 4, "82a0", "8299"),
        [
            (
                "block_format",
                "number_block",
                7,
                "number block #7: first '82a0' and last '8299' must be digit strings of equal "
                "length, 2 to 16 digits",
            )
        ],
    ),
    (
        NumberBlockRow(7, 4, "8500", "85999"),
        [
            (
                "block_format",
                "number_block",
                7,
                "number block #7: first '8500' and last '85999' must be digit strings of equal "
                "length, 2 to 16 digits",
            )
        ],
    ),
    (
        NumberBlockRow(7, 4, "8", "9"),
        [
            (
                "block_format",
                "number_block",
                7,
                "number block #7: first '8' and last '9' must be digit strings of equal "
                "length, 2 to 16 digits",
            )
        ],
    ),
    (
        NumberBlockRow(7, 4, "8599", "8500"),
        [("block_order", "number_block", 7, "number block #7: first 8599 is after last 8500")],
    ),
    (
        NumberBlockRow(7, 42, "8500", "8599"),
        [("unknown_reference", "number_block", 7, "number block #7: unit #42 does not exist")],
    ),
]


@pytest.mark.parametrize(("block", "expected"), BLOCK_CASES)
def test_compile_refuses_bad_number_block(
    rows: PlanRows, block: NumberBlockRow, expected: list[Problem]
) -> None:
    assert problems_of(replace(rows, blocks=(*rows.blocks, block))) == expected


def test_blocks_of_different_lengths_do_not_overlap(rows: PlanRows) -> None:
    block = NumberBlockRow(7, 4, "82000", "82399")
    assert compile_plan(replace(rows, blocks=(*rows.blocks, block))).stats.blocks == 7


EXTENSION_CASES = [
    (
        extension(99, "8290", "新分机", 4, 2),
        ("outside_block", "extension 8290 is not inside any number block of unit #4 '城关镇'"),
    ),
    (
        extension(99, "8205", "借用号码", 2, 2),
        (
            "outside_block",
            "extension 8205 lies in number block #3 (8200-8239) of unit #4 '城关镇', "
            "not in a block of its own unit #2 '县委办公室'",
        ),
    ),
    (
        extension(99, "8001", "重复", 2, 2),
        ("duplicate_number", "extension 8001 is defined twice (extension #1 and #99)"),
    ),
    (
        extension(99, "80a1", "坏号码", 2, 2),
        ("number_format", "extension #99: number '80a1' must be 2 to 16 digits"),
    ),
    (
        extension(99, "８００９", "全角", 2, 2),
        ("number_format", "extension #99: number '８００９' must be 2 to 16 digits"),
    ),
    (
        extension(99, "110", "冒充报警", 2, 2),
        ("emergency_collision", "extension 110 is an emergency number"),
    ),
    (
        extension(99, "8009", "无单位", 42, 2),
        ("unknown_reference", "extension 8009: unit #42 does not exist"),
    ),
    (
        extension(99, "8009", "无地点", 2, 2, site=42),
        ("unknown_reference", "extension 8009: site #42 does not exist"),
    ),
    (
        extension(99, "8009", "无权限", 2, 42),
        ("unknown_reference", "extension 8009: class of service #42 does not exist"),
    ),
    (
        extension(99, "8009", "转移错", 2, 2, forward_unconditional="80-01"),
        (
            "forward_target",
            "extension 8009: forward_unconditional target '80-01' is not a dial string "
            "(an optional +, then 1 to 32 of 0-9, * and #)",
        ),
    ),
    (
        extension(99, "8009", "转移错", 2, 2, forward_busy=""),
        (
            "forward_target",
            "extension 8009: forward_busy target '' is not a dial string "
            "(an optional +, then 1 to 32 of 0-9, * and #)",
        ),
    ),
    (
        extension(99, "8009", "转移错", 2, 2, forward_no_answer="8+1"),
        (
            "forward_target",
            "extension 8009: forward_no_answer target '8+1' is not a dial string "
            "(an optional +, then 1 to 32 of 0-9, * and #)",
        ),
    ),
    (
        extension(99, "8009", "响铃短", 2, 2, no_answer_seconds=3),
        ("no_answer_seconds", "extension 8009: no_answer_seconds 3 is not between 5 and 300"),
    ),
    (
        extension(99, "8009", "张\n三", 2, 2),
        ("control_character", "extension 8009: display name contains a control character"),
    ),
]


@pytest.mark.parametrize(("row", "expected"), EXTENSION_CASES)
def test_compile_refuses_bad_extension(
    rows: PlanRows, row: object, expected: tuple[str, str]
) -> None:
    kind, message = expected
    changed = replace(rows, extensions=(*rows.extensions, row))  # type: ignore[arg-type]
    assert problems_of(changed) == [(kind, "extension", 99, message)]


def test_forward_targets_may_be_international_or_feature_codes(rows: PlanRows) -> None:
    row = extension(
        99, "8009", "转移", 2, 2, forward_busy="+8613800000009", forward_no_answer="*97#"
    )
    assert compile_plan(replace(rows, extensions=(*rows.extensions, row))).extension("8009")


def short(id_: int, code: str, mobile: str = "+8613700000099", **more: object) -> ShortNumberRow:
    return replace(ShortNumberRow(id_, code, mobile, "赵六", 2), **more)  # type: ignore[arg-type]


SHORT_NUMBER_CASES = [
    (
        short(9, "6100001"),
        ("number_format", "short number #9: code '6100001' must be 3 to 6 digits"),
    ),
    (short(9, "61"), ("number_format", "short number #9: code '61' must be 3 to 6 digits")),
    (short(9, "119"), ("emergency_collision", "short number 119 is an emergency number")),
    (short(9, "8001"), ("number_collision", "short number 8001 collides with extension 8001")),
    (
        short(9, "61001"),
        ("duplicate_number", "short number 61001 is defined twice (short number #1 and #9)"),
    ),
    (
        short(9, "61009", "13800000009"),
        (
            "mobile_format",
            "short number 61009: mobile '13800000009' is not an E.164 number such as "
            "+8613800000001",
        ),
    ),
    (
        short(9, "61009", "+8613800000002"),
        (
            "duplicate_mobile",
            "short number 61009: mobile +8613800000002 also belongs to short number 61002",
        ),
    ),
    (
        short(9, "61009", desk_extension="8999"),
        ("unknown_reference", "short number 61009: desk extension '8999' does not exist"),
    ),
    (
        short(9, "61009", unit_id=42),
        ("unknown_reference", "short number 61009: unit #42 does not exist"),
    ),
    (
        short(9, "61009", person_name="赵\x00六"),
        ("control_character", "short number 61009: person name contains a control character"),
    ),
]


@pytest.mark.parametrize(("row", "expected"), SHORT_NUMBER_CASES)
def test_compile_refuses_bad_short_number(
    rows: PlanRows, row: ShortNumberRow, expected: tuple[str, str]
) -> None:
    kind, message = expected
    changed = replace(rows, short_numbers=(*rows.short_numbers, row))
    assert problems_of(changed) == [(kind, "short_number", 9, message)]


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


def test_plan_accessors(plan: NumberingPlan) -> None:
    director = plan.extension("8101")
    assert director is not None
    assert (director.display_name, director.unit_name, director.site_name) == (
        "王县长",
        "县政府办公室",
        "应急指挥中心",
    )
    assert director.priority_site is True
    assert director.class_of_service == "全功能"
    assert director.label == "extension 8101 (县政府办公室 王县长)"
    secretary = plan.extension("8002")
    assert secretary is not None
    assert (secretary.priority_site, secretary.forward_busy, secretary.no_answer_seconds) == (
        False,
        "8003",
        15,
    )
    no_site = plan.extension("8103")
    assert no_site is not None
    assert (no_site.site_name, no_site.priority_site) == (None, False)
    assert plan.extension("8999") is None


def test_extension_carries_digest_credentials(plan: NumberingPlan) -> None:
    import hashlib

    info = plan.extension("8001")
    assert info is not None
    assert info.ha1_md5 == hashlib.md5(b"8001:pingan.gov.example:pw8001").hexdigest()
    assert info.ha1_sha256 == hashlib.sha256(b"8001:pingan.gov.example:pw8001").hexdigest()


def test_short_number_accessors(plan: NumberingPlan) -> None:
    info = plan.short_number("61001")
    assert info is not None
    assert (info.mobile_e164, info.person_name, info.unit_name, info.desk_extension) == (
        "+8613800000001",
        "张三",
        "县委办公室",
        "8001",
    )
    assert plan.short_number_for_mobile("+8613800000002") == plan.short_number("61002")
    assert plan.short_number("69999") is None
    assert plan.short_number_for_mobile("+8613899999999") is None


def test_trunk_by_name_or_id(plan: NumberingPlan) -> None:
    expected = TrunkInfo(1, "cm-county", True, "10.10.0.1", 5060, "udp")
    assert plan.trunk("cm-county") == expected
    assert plan.trunk(1) == expected
    assert plan.trunk("nope") is None
    assert plan.trunk(99) is None


def test_plan_stats_and_rule_order(plan: NumberingPlan) -> None:
    stats = plan.stats
    assert (stats.units, stats.sites, stats.blocks, stats.trunks, stats.rules) == (7, 4, 6, 2, 12)
    assert (stats.extensions, stats.enabled_extensions, stats.short_numbers) == (24, 22, 3)
    assert stats.index_states == plan.index.size
    priorities = [rule.priority for rule in plan.rules]
    assert priorities == sorted(priorities)
    assert plan.is_emergency("110")
    assert not plan.is_emergency("112")


def test_plan_is_immutable(plan: NumberingPlan) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.version = 8  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.extensions["8999"] = plan.extensions["8001"]  # type: ignore[index]
    with pytest.raises(TypeError):
        plan.index.transitions[0] = 1  # type: ignore[index]


def test_plan_equality_is_identity(rows: PlanRows) -> None:
    first, second = compile_plan(rows), compile_plan(rows)
    assert first != second
    assert first == first
    assert "NumberingPlan(realm='pingan.gov.example', version=7" in repr(first)


def test_empty_plan_compiles() -> None:
    plan = compile_plan(PlanRows(realm="empty.example"))
    assert plan.stats.extensions == 0
    assert plan.rules == ()

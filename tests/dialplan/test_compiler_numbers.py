"""compile_plan: validation of number blocks, extensions and short numbers.

Covers: block format, order, overlap and unit; extensions outside their own unit's
blocks, duplicate, malformed (also full-width) and emergency numbers, unknown unit,
site and class of service, forwarding targets, no-answer time, control characters;
short codes' format, collisions with extensions and emergency numbers, duplicates,
E.164 mobiles and their uniqueness, desk extensions, units, control characters.

Leaves out: dial rules and units (test_compiler.py).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from dialplan.engine import compile_plan
from dialplan.model import NumberBlockRow, PlanRows, ShortNumberRow
from tests.dialplan.conftest import extension
from tests.dialplan.helpers import Problem, problems_of

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

"""Dial-rule pattern syntax: parsing, matching and error messages.

Covers: literal characters of the dial alphabet, the X/N/Z wildcards, bracketed sets
and digit ranges, the trailing ".", the length bounds a pattern implies, and the exact
message of every parse error.

Leaves out: how patterns combine into the prefix index (test_index.py) and rule
length bounds (test_compiler.py).
"""

from __future__ import annotations

import pytest

from dialplan.engine import PatternError, parse_pattern
from dialplan.engine.pattern import MAX_PATTERN_POSITIONS


@pytest.mark.parametrize(
    ("pattern", "number", "expected"),
    [
        ("8001", "8001", True),
        ("8001", "8002", False),
        ("8001", "800", False),
        ("8001", "80011", False),
        ("8XXX", "8123", True),
        ("8XXX", "9123", False),
        ("N", "2", True),
        ("N", "1", False),
        ("Z", "1", True),
        ("Z", "0", False),
        ("X", "*", False),
        ("[1-5]", "3", True),
        ("[1-5]", "6", False),
        ("[135]", "3", True),
        ("[135]", "2", False),
        ("[1-36-9]", "7", True),
        ("[1-36-9]", "5", False),
        ("[*#]1", "#1", True),
        ("+86X.", "+8613800000001", True),
        ("*9X", "*95", True),
        ("0.", "0", False),
        ("0.", "01", True),
        ("0.", "0*#+", True),
        ("0.", "10", False),
        ("01[3-9]XXXXXXXXX", "013912345678", True),
        ("01[3-9]XXXXXXXXX", "012912345678", False),
    ],
)
def test_pattern_matches_whole_number(pattern: str, number: str, expected: bool) -> None:
    assert parse_pattern(pattern).matches(number) is expected


@pytest.mark.parametrize(
    ("pattern", "shortest", "longest"),
    [("8XXX", 4, 4), ("0.", 2, None), ("[1-5]X.", 3, None), ("110", 3, 3)],
)
def test_pattern_length_bounds(pattern: str, shortest: int, longest: int | None) -> None:
    parsed = parse_pattern(pattern)
    assert (parsed.shortest, parsed.longest) == (shortest, longest)


def test_parse_pattern_keeps_text_and_positions() -> None:
    parsed = parse_pattern("9[2-4]X.")
    assert parsed.text == "9[2-4]X."
    assert parsed.elements == (
        frozenset("9"),
        frozenset("234"),
        frozenset("0123456789"),
    )
    assert parsed.tail is True


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "pattern '' is empty"),
        ("8x01", "pattern '8x01': unexpected character 'x' at position 2"),
        ("8.1", "pattern '8.1': '.' is allowed only at the end at position 2"),
        (".", "pattern '.': '.' needs at least one position before it at position 1"),
        ("8[12", "pattern '8[12': '[' is never closed at position 2"),
        ("8[]", "pattern '8[]': '[]' is empty at position 2"),
        ("8[5-1]", "pattern '8[5-1]': range '5-1' runs backwards at position 3"),
        ("[1-]", "pattern '[1-]': a range in '[...]' must run from digit to digit at position 2"),
        ("[*-5]", "pattern '[*-5]': a range in '[...]' must run from digit to digit at position 2"),
        ("[-5]", "pattern '[-5]': unexpected character '-' in '[...]' at position 2"),
        ("[1X]", "pattern '[1X]': unexpected character 'X' in '[...]' at position 3"),
        ("81]", "pattern '81]': unexpected character ']' at position 3"),
        ("8\n", "pattern '8\\n': unexpected character '\\n' at position 2"),
        (
            "X" * (MAX_PATTERN_POSITIONS + 1),
            f"pattern '{'X' * 33}' has 33 positions, more than 32",
        ),
    ],
)
def test_parse_pattern_refuses_malformed_pattern(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as caught:
        parse_pattern(pattern)
    assert str(caught.value) == message


def test_longest_allowed_pattern_parses() -> None:
    assert parse_pattern("X" * MAX_PATTERN_POSITIONS + ".").shortest == 33

"""The prefix index: agreement with the readable pattern matcher, and its payloads.

Covers: the index's first accepting rule equals a scan of all rules in priority order
with Pattern.matches (property over generated rule sets and numbers); exact numbers
take the trie path while other characters fall through to the rules; the
"longer number may still match" bound for fixed and tail patterns and for exact
numbers; the state bound; the package's public names.

Leaves out: routing semantics built on these lookups (test_engine.py).
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

import dialplan.engine
from dialplan.engine import DialRule, TrunkInfo, parse_pattern
from dialplan.engine.index import NO_STATE, PrefixIndex, build_index
from dialplan.engine.info import EmergencyTarget
from dialplan.model import DestinationKind

TRUNK = TrunkInfo(1, "cm", True, "", 5060, "udp")


def rule(id_: int, pattern: str, min_length: int = 1, max_length: int = 32) -> DialRule:
    return DialRule(
        id=id_,
        priority=id_,
        pattern=parse_pattern(pattern),
        min_length=min_length,
        max_length=max_length,
        destination=DestinationKind.EXTERNAL_LOCAL,
        trunk=TRUNK,
        strip=0,
        prepend="",
        description="",
    )


def first_rule(index: PrefixIndex, number: str) -> DialRule | None:
    state = index.walk(number)
    if state == NO_STATE:
        return None
    return next((r for r in index.accepting[state] if r.accepts_length(len(number))), None)


PATTERN_ITEMS = st.sampled_from(["0", "1", "8", "*", "#", "+", "X", "N", "Z", "[1-3]", "[09]"])
PATTERNS = st.builds(
    lambda items, tail: "".join(items) + ("." if tail else ""),
    st.lists(PATTERN_ITEMS, min_size=1, max_size=5),
    st.booleans(),
)
NUMBERS = st.text(alphabet="0123489*#+", max_size=8)


@settings(deadline=None)
@given(st.lists(st.tuples(PATTERNS, st.integers(1, 8), st.integers(0, 4)), max_size=6), NUMBERS)
@example([("8X", 1, 0), ("8.", 1, 0)], "81")
@example([("8.", 3, 1), ("8X", 1, 0)], "81")
def test_index_finds_the_rule_a_priority_scan_finds(
    specs: list[tuple[str, int, int]], number: str
) -> None:
    rules = [
        rule(i, pattern, minimum, minimum + extra)
        for i, (pattern, minimum, extra) in enumerate(specs, start=1)
    ]
    expected = next(
        (r for r in rules if r.accepts_length(len(number)) and r.pattern.matches(number)), None
    )
    assert first_rule(build_index({}, rules), number) == expected


def test_exact_numbers_and_rules_share_one_walk() -> None:
    target = EmergencyTarget("110", None, False)
    index = build_index({"110": target}, [rule(1, "1XX"), rule(2, "11.")])
    assert index.exact[index.walk("110")] is target
    assert [r.id for r in index.accepting[index.walk("110")]] == [1, 2]
    assert index.exact[index.walk("111")] is None
    assert [r.id for r in index.accepting[index.walk("111")]] == [1, 2]
    assert [r.id for r in index.accepting[index.walk("1100")]] == [2]
    assert index.walk("2") == NO_STATE


def test_longer_number_bound_of_fixed_and_tail_patterns() -> None:
    # A state's bound is the longest dialed length at which some rule could still
    # accept a longer number: "incomplete" if len(dialed) <= bound.
    index = build_index({}, [rule(1, "8XXX", 4, 4), rule(2, "9X.", 3, 6)])
    assert index.longer_within[index.walk("8")] == 1  # 3 more characters reach 4
    assert index.longer_within[index.walk("812")] == 3
    assert index.longer_within[index.walk("8123")] == NO_STATE  # complete, cannot grow
    assert index.longer_within[index.walk("9")] == 4  # needs 2 more, at most 6 in all
    assert index.longer_within[index.walk("95")] == 5
    assert index.longer_within[index.walk("95555")] == 5  # accepting, may grow to 6


def test_exact_prefix_allows_any_length_and_plain_rule_states_do_not() -> None:
    index = build_index({"8001": EmergencyTarget("8001", None, False)}, [rule(1, "9X", 2, 2)])
    assert index.longer_within[index.walk("800")] > 32
    assert index.longer_within[index.walk("8001")] == NO_STATE
    assert index.walk("8002") == NO_STATE
    # Rule states for "", "9", "9X"; trie states for "", "8", "80", "800", "8001".
    assert index.size == 3 + 5
    assert index.exact[index.walk("98")] is None


def test_public_names_are_sorted_and_complete() -> None:
    names = dialplan.engine.__all__
    assert names == sorted(names)
    public = {name for name in vars(dialplan.engine) if not name.startswith("_")}
    modules = {
        "compiler",
        "decisions",
        "exceptions",
        "index",
        "info",
        "pattern",
        "plan",
        "router",
        "validation",
    }
    assert public - modules == set(names)

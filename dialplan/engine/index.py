"""The prefix index: one deterministic automaton for exact numbers and rule patterns.

Theory of operation
-------------------
Kamailio's drouting keeps rules in a digit tree (``prefix_tree.h``) so that a lookup
costs the length of the number, not the number of rules. Our patterns also contain
wildcards (``X``, ``[1-5]``, a trailing ``.``), so a plain digit tree is not enough.
The index is built in two layers and flattened into one transition table:

1. **Rule automaton.** Each rule is a linear pattern; a position in it is the item
   ``(rule, position)``. The subset construction turns the set of items alive after a
   prefix into one state, so every state knows, without looking at any rule again,
   which rules accept there (in priority order) and up to which dialed length a longer
   number could still match one of them.
2. **Exact-number trie.** Extensions, short codes and emergency numbers form a trie.
   Each trie node is paired with the rule state reached by the same prefix; where the
   trie has no child for a character, the transition falls through to the plain rule
   state. The product therefore has about as many states as the trie plus the rule
   automaton, not their product.

A lookup walks one table entry per dialed character (O(len(dialed))) and reads the
final state's payload: the exact target, the accepting rules and the length bound for
"address incomplete". Rules are never scanned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from dialplan.engine._alphabet import ALPHABET, SYMBOL, WIDTH
from dialplan.engine.exceptions import PlanError, PlanProblem
from dialplan.engine.info import DialRule, ExactTarget

__all__ = ["MAX_RULE_STATES", "NO_STATE", "PrefixIndex", "build_index"]

#: Transition-table entry and walk result for "no number starts like this".
NO_STATE: Final = -1

#: Bound on rule-automaton states. Realistic plans (30 rules) need a few hundred; the
#: subset construction can blow up on adversarial wildcard soups, and a plan that
#: would take seconds to compile must be refused at save time, not at reload.
MAX_RULE_STATES: Final = 4000

# "A longer number may still match" bound for trie nodes with children: any length.
_ANY_LENGTH: Final = 1 << 30
# Plain dict: the walk is the hot loop and a MappingProxyType lookup costs more.
_SYMBOL: Final[dict[str, int]] = dict(SYMBOL)

_Item = tuple[int, int]


@dataclass(frozen=True, slots=True)
class PrefixIndex:
    """Immutable automaton over the dial alphabet; see the module docstring."""

    transitions: tuple[int, ...]
    """``transitions[state * WIDTH + symbol]`` is the next state or :data:`NO_STATE`."""
    exact: tuple[ExactTarget | None, ...]
    """Per state: the extension, short number or emergency number spelled by the path."""
    accepting: tuple[tuple[DialRule, ...], ...]
    """Per state: rules whose pattern matches the path, lowest priority value first."""
    longer_within: tuple[int, ...]
    """Per state: a longer number may still match while len(dialed) <= this."""
    start: int

    @property
    def size(self) -> int:
        """Number of states."""
        return len(self.exact)

    def walk(self, number: str) -> int:
        """Return the state ``number`` leads to, or :data:`NO_STATE`.

        ``number`` must consist of alphabet characters only.
        """
        table = self.transitions
        state = self.start
        for char in number:
            state = table[state * WIDTH + _SYMBOL[char]]
            if state < 0:
                return NO_STATE
        return state


def build_index(
    exact: Mapping[str, ExactTarget],
    rules: Sequence[DialRule],
    *,
    max_rule_states: int = MAX_RULE_STATES,
) -> PrefixIndex:
    """Build the index for exact numbers and ``rules`` (sorted by priority).

    Raise :class:`PlanError` when the rules need more than ``max_rule_states`` states.
    """
    transitions, accepting, longer_within = _rule_automaton(rules, max_rule_states)
    rule_states = len(accepting)
    exact_payload: list[ExactTarget | None] = [None] * rule_states

    prefixes = {""}
    for number in exact:
        prefixes.update(number[:end] for end in range(1, len(number) + 1))
    ordered = sorted(prefixes, key=lambda prefix: (len(prefix), prefix))
    ids = {prefix: rule_states + i for i, prefix in enumerate(ordered)}
    children: dict[str, list[str]] = {}
    for prefix in ordered[1:]:
        children.setdefault(prefix[:-1], []).append(prefix)

    # The rule state each trie prefix reaches; the empty prefix starts at rule state 0.
    rule_state = {"": 0 if rule_states else NO_STATE}
    dead_row = [NO_STATE] * WIDTH
    for prefix in ordered:
        if prefix:
            parent = rule_state[prefix[:-1]]
            rule_state[prefix] = (
                NO_STATE if parent < 0 else transitions[parent * WIDTH + _SYMBOL[prefix[-1]]]
            )
        state = rule_state[prefix]
        row = dead_row.copy() if state < 0 else transitions[state * WIDTH : (state + 1) * WIDTH]
        for child in children.get(prefix, ()):
            row[_SYMBOL[child[-1]]] = ids[child]
        transitions.extend(row)
        exact_payload.append(exact.get(prefix))
        accepting.append(() if state < 0 else accepting[state])
        bound = NO_STATE if state < 0 else longer_within[state]
        longer_within.append(_ANY_LENGTH if prefix in children else bound)

    return PrefixIndex(
        transitions=tuple(transitions),
        exact=tuple(exact_payload),
        accepting=tuple(accepting),
        longer_within=tuple(longer_within),
        start=ids[""],
    )


def _rule_automaton(
    rules: Sequence[DialRule], max_states: int
) -> tuple[list[int], list[tuple[DialRule, ...]], list[int]]:
    """Subset construction over rule items; state 0 is the start (if any rule exists)."""
    accept_at = [len(rule.pattern.elements) + int(rule.pattern.tail) for rule in rules]
    start = frozenset((index, 0) for index in range(len(rules)))
    if not start:
        return [], [], []
    ids = {start: 0}
    queue = [start]
    transitions: list[int] = []
    accepting: list[tuple[DialRule, ...]] = []
    longer_within: list[int] = []
    for items in queue:  # the queue grows while it is walked: breadth-first order
        accepting.append(
            tuple(rules[index] for index, position in sorted(items) if position == accept_at[index])
        )
        longer_within.append(_longer_within(items, rules, accept_at))
        for char in ALPHABET:
            following = frozenset(
                (index, after)
                for index, position in items
                if (after := _advance(rules[index], position, char)) is not None
            )
            if not following:
                transitions.append(NO_STATE)
                continue
            state = ids.get(following)
            if state is None:
                if len(ids) >= max_states:
                    raise PlanError((_too_complex(max_states),))
                state = ids[following] = len(ids)
                queue.append(following)
            transitions.append(state)
    return transitions, accepting, longer_within


def _advance(rule: DialRule, position: int, char: str) -> int | None:
    """The item position after ``char``, or ``None`` if the rule cannot take it."""
    elements = rule.pattern.elements
    if position < len(elements):
        return position + 1 if char in elements[position] else None
    # Past the fixed positions only a tail continues: its first character moves to the
    # accepting position, which then loops on any character.
    return len(elements) + 1 if rule.pattern.tail else None


def _longer_within(items: frozenset[_Item], rules: Sequence[DialRule], accept_at: list[int]) -> int:
    """Largest dialed length from which some item can still reach a longer match.

    An item needs ``max(1, accept_at - position)`` more characters; it helps as long as
    ``len(dialed) + needed <= max_length``. Items at a fixed pattern's end need more
    characters than the pattern has, so they never help.
    """
    bound = NO_STATE
    for index, position in items:
        rule = rules[index]
        if position == accept_at[index] and not rule.pattern.tail:
            continue
        needed = max(1, accept_at[index] - position)
        bound = max(bound, rule.max_length - needed)
    return bound


def _too_complex(max_states: int) -> PlanProblem:
    return PlanProblem(
        kind="rules_too_complex",
        object_kind="dial_rule",
        object_id=None,
        message=(
            f"dial rules need more than {max_states} prefix-index states; "
            "merge overlapping wildcard patterns"
        ),
    )

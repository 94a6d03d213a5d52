"""Dial-rule patterns: Asterisk-style extension patterns over the dial alphabet.

Syntax, one position per item:

* ``0``-``9``, ``*``, ``#``, ``+``: that character;
* ``X``: any digit 0-9; ``Z``: 1-9; ``N``: 2-9 (Asterisk's letters, upper case only);
* ``[...]``: one character from a set of characters and digit ranges, ``[1-5]``,
  ``[135]``, ``[1-36-9*]``;
* a final ``.``: one or more further characters of any kind.

A parsed :class:`Pattern` is a tuple of character sets plus the ``tail`` flag. The prefix
index (:mod:`dialplan.engine.index`) turns all rules' patterns into one automaton; the
:meth:`Pattern.matches` method is the readable reference it is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from dialplan.engine._alphabet import ALPHABET, quote
from dialplan.engine.exceptions import PatternError

__all__ = ["MAX_PATTERN_POSITIONS", "Pattern", "parse_pattern"]

#: Longest pattern accepted, counting a bracketed set as one position. E.164 numbers
#: have at most 15 digits; twice that leaves room for access codes and carrier prefixes
#: while bounding the work of building the prefix index.
MAX_PATTERN_POSITIONS: Final = 32

_DIGITS: Final = frozenset("0123456789")
_WILDCARDS: Final = {
    "X": _DIGITS,
    "Z": frozenset("123456789"),
    "N": frozenset("23456789"),
}
_ANY: Final = frozenset(ALPHABET)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed dial-rule pattern."""

    text: str
    """The pattern as written, e.g. ``"0[1-9]X."``."""
    elements: tuple[frozenset[str], ...]
    """The characters allowed at each fixed position."""
    tail: bool
    """Whether the pattern ends in ``.``: one or more further characters of any kind."""

    @property
    def shortest(self) -> int:
        """Length of the shortest number the pattern matches."""
        return len(self.elements) + (1 if self.tail else 0)

    @property
    def longest(self) -> int | None:
        """Length of the longest number the pattern matches; ``None`` if unbounded."""
        return None if self.tail else len(self.elements)

    def matches(self, number: str) -> bool:
        """Whether the whole of ``number`` matches the pattern."""
        fixed = len(self.elements)
        if len(number) < self.shortest or (not self.tail and len(number) != fixed):
            return False
        if not all(char in allowed for char, allowed in zip(number, self.elements, strict=False)):
            return False
        return all(char in _ANY for char in number[fixed:])


def parse_pattern(text: str) -> Pattern:
    """Parse ``text``; raise :class:`PatternError` naming the first fault."""
    if not text:
        raise PatternError("pattern '' is empty")
    elements: list[frozenset[str]] = []
    tail = False
    position = 0
    while position < len(text):
        char = text[position]
        if char == ".":
            if position != len(text) - 1:
                raise _fault(text, position, "'.' is allowed only at the end")
            if not elements:
                # A lone "." would be a catch-all that shadows every later rule and
                # every typo; a plan that wants one writes "X." or "[0-9*#+].".
                raise _fault(text, position, "'.' needs at least one position before it")
            tail = True
            position += 1
        elif char == "[":
            allowed, position = _parse_set(text, position)
            elements.append(allowed)
        elif char in _WILDCARDS:
            elements.append(_WILDCARDS[char])
            position += 1
        elif char in _ANY:
            elements.append(frozenset(char))
            position += 1
        else:
            raise _fault(text, position, f"unexpected character {quote(char)}")
    if len(elements) > MAX_PATTERN_POSITIONS:
        raise PatternError(
            f"pattern {quote(text)} has {len(elements)} positions, more than "
            f"{MAX_PATTERN_POSITIONS}"
        )
    return Pattern(text=text, elements=tuple(elements), tail=tail)


def _parse_set(text: str, start: int) -> tuple[frozenset[str], int]:
    """Parse ``[...]`` opening at ``start``; return the set and the index after ``]``."""
    end = text.find("]", start)
    if end < 0:
        raise _fault(text, start, "'[' is never closed")
    body = text[start + 1 : end]
    if not body:
        raise _fault(text, start, "'[]' is empty")
    allowed: set[str] = set()
    index = 0
    while index < len(body):
        char = body[index]
        at = start + 1 + index
        if char not in _ANY:
            raise _fault(text, at, f"unexpected character {quote(char)} in '[...]'")
        if index + 1 < len(body) and body[index + 1] == "-":
            last = body[index + 2 : index + 3]
            if char not in _DIGITS or last not in _DIGITS:
                raise _fault(text, at, "a range in '[...]' must run from digit to digit")
            if last < char:
                raise _fault(text, at, f"range '{char}-{last}' runs backwards")
            allowed.update(str(digit) for digit in range(int(char), int(last) + 1))
            index += 3
        else:
            allowed.add(char)
            index += 1
    return frozenset(allowed), end + 1


def _fault(text: str, position: int, why: str) -> PatternError:
    # Positions are 1-based: operators count characters from one.
    return PatternError(f"pattern {quote(text)}: {why} at position {position + 1}")

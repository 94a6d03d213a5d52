"""The dial alphabet and the small string checks that the compiler and router share."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

#: Every character a dialed number, an exact number or a pattern position can hold:
#: the twelve keypad keys plus "+" for E.164 numbers. Order fixes the column of each
#: character in the prefix index's transition table.
ALPHABET: Final = "0123456789*#+"
WIDTH: Final = len(ALPHABET)
SYMBOL: Final[Mapping[str, int]] = MappingProxyType({char: i for i, char in enumerate(ALPHABET)})

#: Visual separators people type or paste ("010-6512 3456", "(0371) 1234.5678");
#: they carry no meaning, so normalisation drops them before anything else looks.
SEPARATORS: Final = " -()."
_DROP_SEPARATORS: Final = str.maketrans("", "", SEPARATORS)
_FOREIGN: Final = re.compile(r"[^0-9*#+]")

# `[0-9]`, never `\d` or str.isdigit(): those accept "３" and "²", which no trunk dials.
_DIGITS: Final = re.compile(r"[0-9]+")
#: Same shapes as dialplan.storage.validation, so the API and the compiler agree.
_DIAL_STRING: Final = re.compile(r"\+?[0-9*#]{1,32}")
_E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")
_PREPEND: Final = re.compile(r"[0-9*#+]{0,32}")


def normalise(dialed: str) -> str:
    """Return ``dialed`` without visual separators."""
    return dialed.translate(_DROP_SEPARATORS)


def has_foreign_characters(text: str) -> bool:
    """Whether ``text`` holds a character outside :data:`ALPHABET`."""
    return _FOREIGN.search(text) is not None


def is_digits(text: str) -> bool:
    """Whether ``text`` is a non-empty string of ASCII digits."""
    return _DIGITS.fullmatch(text) is not None


def is_dial_string(text: str) -> bool:
    """Whether ``text`` can be dialed: an optional "+", then 1-32 of ``0-9*#``."""
    return _DIAL_STRING.fullmatch(text) is not None


def is_e164(text: str) -> bool:
    """Whether ``text`` is an E.164 number: "+", non-zero country code, <= 15 digits."""
    return _E164.fullmatch(text) is not None


def is_prepend(text: str) -> bool:
    """Whether ``text`` may be prepended by a dial rule: 0-32 alphabet characters."""
    return _PREPEND.fullmatch(text) is not None


def has_control_character(text: str) -> bool:
    """Whether ``text`` holds a control, format or line-separator character.

    Names and rule descriptions end up in SIP reason phrases; a CR or LF there would
    let a plan administrator inject header lines into responses. Ordinary and
    ideographic spaces ("张　三") are fine.
    """
    # str.isprintable() is False for every control character (and for spaces other
    # than " "), so it settles the usual all-printable name at C speed.
    return not text.isprintable() and any(_is_control(char) for char in text)


def _is_control(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zl", "Zp")


def quote(text: str, limit: int = 40) -> str:
    """Quote untrusted text for a reason phrase: escape the unprintable, truncate."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    escaped = "".join(
        char.encode("unicode_escape").decode("ascii") if _is_control(char) else char
        for char in shown
    )
    return f"'{escaped}'"

"""Bounded memoisation of the pure value parsers (URI, name-addr, Via, CSeq).

Theory of operation: the values a proxy parses repeat heavily across messages. Every
response repeats its request's Via, From, Call-ID and CSeq; every in-dialog request
repeats From, To and the Route set; ``CSeq: 1 INVITE``, our own Record-Route and the
phones' Contacts repeat across calls. The parsers are pure functions of their text and
return immutable values, so a cache keyed by that exact text returns the very value a
fresh parse would build. Errors are not cached (a malformed value is parsed again).

Two bounds keep a hostile peer from using the cache against us: at most
:data:`MAX_ENTRIES` values per parser (the cache is emptied when full) and no caching of
texts longer than :data:`MAX_KEY_LENGTH`, so the memory held stays around a few
megabytes whatever arrives. The parsers never return ``None``, which marks a miss.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final, TypeVar

T = TypeVar("T")

#: Values kept per parser: a few thousand concurrent dialogs' worth of distinct headers.
MAX_ENTRIES: Final = 4096

#: Longest text cached; real From/To/Contact/Via values are 40-150 characters.
MAX_KEY_LENGTH: Final = 256


_CLEARERS: list[Callable[[], None]] = []


def memoised(function: Callable[[str], T]) -> Callable[[str], T]:
    """``function`` behind a bounded cache keyed by its (short enough) argument.

    The cache is a plain dictionary emptied when full: a hit costs one lookup, and a
    burst of misses after a clear refills it with what is current.
    """
    values: dict[str, T] = {}
    cached = values.get
    _CLEARERS.append(values.clear)

    @functools.wraps(function)
    def lookup(text: str) -> T:
        value = cached(text)
        if value is None:
            value = function(text)
            if len(text) <= MAX_KEY_LENGTH:
                if len(values) >= MAX_ENTRIES:
                    values.clear()
                values[text] = value
        return value

    return lookup


def clear_caches() -> None:
    """Empty every parser cache (tests use it to exercise the uncached path)."""
    for clear in _CLEARERS:
        clear()

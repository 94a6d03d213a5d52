"""Helpers shared by the digest modules; not part of the package's API."""

from __future__ import annotations

from typing import Final

_MAX_SHOWN: Final = 80


def excerpt(text: str) -> str:
    """``repr`` of ``text`` cut to a length fit for an error message."""
    if len(text) > _MAX_SHOWN:
        return repr(text[:_MAX_SHOWN] + "...")
    return repr(text)

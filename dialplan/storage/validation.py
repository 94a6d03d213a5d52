"""Field-level rules shared by the services, the CSV importer and the API schemas.

Each ``check_*`` function raises :class:`ValidationFailed` naming the field and the
offending value, and returns the normalised value (names are stripped).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from dialplan.model import EMERGENCY_NUMBERS
from dialplan.storage.exceptions import ValidationFailed

__all__ = [
    "DIAL_STRING_PATTERN",
    "E164_PATTERN",
    "NUMBER_PATTERN",
    "PREPEND_PATTERN",
    "TRANSPORTS",
    "UNIT_CODE_PATTERN",
    "check_dial_string",
    "check_e164",
    "check_name",
    "check_number",
    "check_optional_dial_string",
    "check_prepend",
    "check_range",
    "check_transport",
    "check_unit_code",
]

#: Extension numbers, block bounds and short codes: 2 to 16 digits.
NUMBER_PATTERN: Final = r"^[0-9]{2,16}$"
#: ITU-T E.164: "+", a non-zero country code digit, at most 15 digits in all.
E164_PATTERN: Final = r"^\+[1-9][0-9]{6,14}$"
#: A call-forward target: a number, optionally international, with * and #.
DIAL_STRING_PATTERN: Final = r"^\+?[0-9*#]{1,32}$"
#: Digits a dial rule prepends after stripping.
PREPEND_PATTERN: Final = r"^[0-9*#+]{0,32}$"
#: Unit codes appear in CSV files and URLs: ASCII letters, digits, "-", "_", ".".
UNIT_CODE_PATTERN: Final = r"^[A-Za-z0-9_.-]{1,32}$"
#: SIP transports a trunk may use (RFC 3261 §18).
TRANSPORTS: Final = frozenset({"udp", "tcp", "tls"})


def _match(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern.strip("^$"), value) is not None


def check_number(field: str, value: str) -> str:
    """A dialable internal number: 2-16 digits, not an emergency number."""
    if not _match(NUMBER_PATTERN, value):
        raise ValidationFailed(field, f"{value!r} is not 2 to 16 digits")
    if value in EMERGENCY_NUMBERS:
        raise ValidationFailed(field, f"{value} is reserved for emergency calls")
    return value


def check_name(field: str, value: str | None, *, max_length: int = 100) -> str:
    """A non-empty name without control characters, at most ``max_length`` long, stripped."""
    if value is None:
        raise ValidationFailed(field, "must not be null")
    stripped = value.strip()
    if any(unicodedata.category(character) == "Cc" for character in stripped):
        raise ValidationFailed(field, "must not contain control characters")
    if not stripped:
        raise ValidationFailed(field, "must not be empty")
    if len(stripped) > max_length:
        raise ValidationFailed(field, f"{len(stripped)} characters exceed the maximum {max_length}")
    return stripped


def check_e164(field: str, value: str) -> str:
    """A full international number such as ``+8613800000001``."""
    if not _match(E164_PATTERN, value):
        raise ValidationFailed(field, f"{value!r} is not an E.164 number such as +8613800000001")
    return value


def check_dial_string(field: str, value: str) -> str:
    """A number a call may be forwarded to."""
    if not _match(DIAL_STRING_PATTERN, value):
        raise ValidationFailed(field, f"{value!r} is not a dialable number")
    return value


def check_optional_dial_string(field: str, value: str | None) -> str | None:
    """Like :func:`check_dial_string`; ``None`` and "" mean "not set"."""
    if value is None or value == "":
        return None
    return check_dial_string(field, value)


def check_prepend(field: str, value: str) -> str:
    """Digits (and ``*#+``) a dial rule adds in front of the number."""
    if not _match(PREPEND_PATTERN, value):
        raise ValidationFailed(field, f"{value!r} may only contain 0-9, *, # and +")
    return value


def check_range(field: str, value: int | None, low: int, high: int) -> int:
    """An integer within ``[low, high]``."""
    if value is None:
        raise ValidationFailed(field, "must not be null")
    if not low <= value <= high:
        raise ValidationFailed(field, f"{value} is not between {low} and {high}")
    return value


def check_unit_code(field: str, value: str) -> str:
    """A unit's short code, used to refer to it in CSV files."""
    if not _match(UNIT_CODE_PATTERN, value):
        raise ValidationFailed(
            field, f"{value!r} must be 1-32 ASCII letters, digits, '-', '_' or '.'"
        )
    return value


def check_transport(field: str, value: str) -> str:
    """One of the transports in :data:`TRANSPORTS`, lower case."""
    if value not in TRANSPORTS:
        raise ValidationFailed(field, f"{value!r} is not one of {', '.join(sorted(TRANSPORTS))}")
    return value

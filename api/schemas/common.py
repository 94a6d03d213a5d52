"""Field types shared by the request and response schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field, StringConstraints

from dialplan.storage.validation import (
    DIAL_STRING_PATTERN,
    E164_PATTERN,
    NUMBER_PATTERN,
    PREPEND_PATTERN,
    UNIT_CODE_PATTERN,
)

__all__ = [
    "CHINA_STANDARD_TIME",
    "E164",
    "MAX_ID",
    "DialString",
    "Id",
    "Name",
    "Number",
    "Prepend",
    "SearchText",
    "UnitCode",
    "UtcTime",
    "Version",
    "local_time",
]

#: Largest id or version accepted: PostgreSQL ``integer``.
MAX_ID: Final = 2_147_483_647
#: Operators read times in China Standard Time; responses add an ``*_local`` rendering.
CHINA_STANDARD_TIME: Final = ZoneInfo("Asia/Shanghai")
_NO_CONTROL: Final = r"^[^\x00-\x1F\x7F]*$"

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=1, le=MAX_ID, description="The version being changed.")]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_NO_CONTROL)
]
SearchText = Annotated[str, StringConstraints(max_length=100, pattern=_NO_CONTROL)]
Number = Annotated[str, StringConstraints(pattern=NUMBER_PATTERN)]
E164 = Annotated[str, StringConstraints(pattern=E164_PATTERN)]
DialString = Annotated[str, StringConstraints(pattern=DIAL_STRING_PATTERN)]
Prepend = Annotated[str, StringConstraints(pattern=PREPEND_PATTERN)]
UnitCode = Annotated[str, StringConstraints(pattern=UNIT_CODE_PATTERN)]
UtcTime = AwareDatetime


def local_time(moment: datetime) -> datetime:
    """``moment`` in China Standard Time (UTC+8), for the ``*_local`` fields."""
    return moment.astimezone(CHINA_STANDARD_TIME)

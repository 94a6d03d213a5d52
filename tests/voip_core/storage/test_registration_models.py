"""The registration model's UTC time column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine

from voip_core.storage.models import UtcDateTime

BEIJING = timezone(timedelta(hours=8))
POSTGRESQL = create_engine("postgresql+psycopg://").dialect
SQLITE = create_engine("sqlite://").dialect


def test_times_are_stored_utc() -> None:
    column = UtcDateTime()
    local = datetime(2027, 1, 15, 16, 0, tzinfo=BEIJING)
    stored = column.process_bind_param(local, POSTGRESQL)
    assert stored == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert stored is not None
    assert stored.utcoffset() == timedelta(0)
    assert column.process_bind_param(local, SQLITE) == datetime(2027, 1, 15, 8, 0)
    assert column.process_bind_param(None, SQLITE) is None


def test_naive_times_are_refused() -> None:
    with pytest.raises(
        ValueError, match="naive datetime 2027-01-15T08:00:00 given; times are stored UTC"
    ):
        UtcDateTime().process_bind_param(datetime(2027, 1, 15, 8, 0), SQLITE)


def test_times_are_read_as_utc() -> None:
    column = UtcDateTime()
    assert column.process_result_value(datetime(2027, 1, 15, 8, 0), SQLITE) == datetime(
        2027, 1, 15, 8, 0, tzinfo=UTC
    )
    read = column.process_result_value(datetime(2027, 1, 15, 16, 0, tzinfo=BEIJING), POSTGRESQL)
    assert read is not None
    assert read.tzinfo == UTC
    assert column.process_result_value(None, SQLITE) is None

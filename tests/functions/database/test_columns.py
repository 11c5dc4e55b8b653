"""Column types: the timestamp text the bulk writer binds on SQLite is SQLAlchemy's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from functions.database.columns import UTCDateTime, sqlite_timestamp

_DIALECT = sqlite.dialect()
_SQLALCHEMY = UTCDateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)
_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=_OFFSETS | st.just(UTC),
    )
)
def test_a_timestamp_is_written_as_sqlalchemy_writes_it(moment: datetime) -> None:
    assert sqlite_timestamp(moment) == _SQLALCHEMY(moment)


def test_a_whole_second_keeps_its_microseconds() -> None:
    assert (
        sqlite_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05.000000"
    )


def test_a_timestamp_without_a_time_zone_is_refused_and_none_is_null() -> None:
    with pytest.raises(ValueError, match="must carry a timezone"):
        sqlite_timestamp(datetime(2026, 1, 2))
    assert sqlite_timestamp(None) is None

"""The prediction log's table, on SQLite and on PostgreSQL (see tests/database_fixtures.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from functions.database import PredictionLog, PredictionLogEntry
from tests.functions.database.stones import stone


def test_prediction_log_write_many(database: sa.Engine) -> None:
    earlier = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    entries = [
        {
            "model_version": "v3",
            "latency_ms": 12.5,
            "caller": "key:3f9a1c",
            "n_stones": 2,
            "status": 200,
            "request": {"stones": [stone(), stone(0.7)]},
            "response": {"prices": [1000.0, 2000.0], "note": "ünïcode"},
            "created_at": earlier,
        },
        {"latency_ms": 0.8, "caller": "anonymous", "status": 422},
    ]
    PredictionLog(database).write_many(entries)
    PredictionLog(database).write_many([])
    table = PredictionLogEntry.__table__
    with database.connect() as connection:
        rows = connection.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    assert len(rows) == 2
    assert rows[0]["created_at"] == earlier
    assert rows[0]["request"] == entries[0]["request"]
    assert rows[0]["response"] == entries[0]["response"]
    assert rows[1]["model_version"] is None and rows[1]["request"] is None
    assert rows[1]["created_at"] > earlier


OPTIONAL = ("model_version", "n_stones", "request", "response")
"""The columns an entry may leave out (an executemany insert wants every key in every row)."""


def test_rows_are_stored_as_sqlalchemys_own_insert_stores_them(database: sa.Engine) -> None:
    paris = timezone(timedelta(hours=2))
    entries = [
        {
            "created_at": datetime(2024, 5, 1, 14, 30, 0, 123456, tzinfo=paris),
            "model_version": "v3",
            "latency_ms": 0.1 + 0.2,
            "caller": "key:3f9a1c",
            "n_stones": 2,
            "status": 200,
            "request": {"body": [stone(), stone(0.7)], "query": "explain=true"},
            "response": {"prices": [1000.5, 2e-7], "note": "ünïcode ✓", "none": None},
        },
        {"latency_ms": 0.8, "caller": "anonymous", "status": 422, "response": [1, "two"]},
    ]
    table = PredictionLogEntry.__table__
    now = datetime.now(UTC)
    with database.begin() as connection:
        connection.execute(
            sa.insert(table),
            [{"created_at": now, **dict.fromkeys(OPTIONAL), **e} for e in entries],
        )
    PredictionLog(database).write_many([{"created_at": now, **e} for e in entries])
    columns = ", ".join(c.name for c in table.columns if c.name != "id")
    with database.connect() as connection:
        stored = connection.exec_driver_sql(
            f"SELECT {columns} FROM prediction_log ORDER BY id"
        ).all()
    assert len(stored) == 4
    assert stored[2:] == stored[:2]


def logged(number: int) -> dict:
    """A priced request's entry; `number` (its n_stones) tells entries apart."""
    return {"caller": "anonymous", "n_stones": number, "status": 200, "latency_ms": 1.5}


def test_a_batch_of_several_statements_is_one_transaction(database: sa.Engine) -> None:
    from functions.database.bulk import ROWS_PER_STATEMENT

    log = PredictionLog(database)
    log.write_many([logged(i) for i in range(120)])
    broken = [logged(1000 + i) for i in range(120)]
    assert 110 // ROWS_PER_STATEMENT >= 2
    broken[110]["status"] = None  # a later statement fails: nothing of the batch is kept
    with pytest.raises(sa.exc.IntegrityError):
        log.write_many(broken)
    with database.connect() as connection:
        numbers = connection.execute(
            sa.text("SELECT n_stones FROM prediction_log ORDER BY n_stones")
        ).scalars()
        assert list(numbers) == list(range(120))


def test_a_timestamp_without_a_time_zone_is_refused(database: sa.Engine) -> None:
    naive = {**logged(1), "created_at": datetime(2024, 5, 1, 12, 30)}
    with pytest.raises((ValueError, sa.exc.StatementError), match="must carry a timezone"):
        PredictionLog(database).write_many([logged(0), naive])
    with database.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM prediction_log")).scalar() == 0

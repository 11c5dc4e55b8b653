"""The prediction log's background batching, against a real database (SQLite and PostgreSQL):
entries are written in batches off the request path, a failing database never fails the
caller, a full queue drops entries rather than block a price, and what is still queued is
written by flush() and at exit.

Waits are on what the database received, never on the clock.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from functions.database import PredictionLog, PredictionLogEntry, make_engine, migrate
from functions.prediction_log import PredictionLogger

REPO = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 30
LONG = 3600.0
"""An interval no test waits for: only full batches are written on their own."""


def entry(number: int) -> dict:
    """One priced request as the pricing function logs it; `number` tells entries apart."""
    return {
        "caller": "anonymous",
        "model_version": "v1",
        "n_stones": number,
        "status": 200,
        "latency_ms": 1.5,
        "request": {"stones": [{"carat": 0.3}]},
        "response": {"price": 512.0},
    }


class Table:
    """The prediction_log table, written through PredictionLog, and what the logger handed it:
    each write it made (written or failed). `stall()` holds writes until `resume()`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.batches: list[int] = []
        self.handed = 0
        self.writing = threading.Event()
        self._up = threading.Event()
        self._up.set()
        self._changed = threading.Condition()

    def write_many(self, entries: list[dict]) -> None:
        self.writing.set()
        self._up.wait()
        try:
            PredictionLog(self.engine).write_many(entries)
            with self._changed:
                self.batches.append(len(entries))
        finally:
            with self._changed:
                self.handed += len(entries)
                self._changed.notify_all()

    def stall(self) -> None:
        self._up.clear()

    def resume(self) -> None:
        self._up.set()

    def wait_for(self, handed: int) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.handed >= handed, WAIT_SECONDS):
                pytest.fail(f"the logger handed {self.handed} entries, not {handed}")

    def rows(self) -> list[dict]:
        table = PredictionLogEntry.__table__
        with self.engine.connect() as connection:
            query = sa.select(table.c.n_stones, table.c.created_at).order_by(table.c.id)
            return [dict(row) for row in connection.execute(query).mappings()]

    def numbers(self) -> list[int]:
        return [row["n_stones"] for row in self.rows()]


@pytest.fixture
def table(database: sa.Engine) -> Iterator[Table]:
    table = Table(database)
    yield table
    table.resume()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="diamonds.prediction_log")
    return caplog


def test_entries_are_written_in_full_batches(table: Table) -> None:
    logger = PredictionLogger(table.write_many, batch_size=5, interval=LONG)
    for number in range(10):
        logger.submit(entry(number))
    table.wait_for(10)
    assert table.batches == [5, 5]
    assert table.numbers() == list(range(10))


def test_a_partial_batch_is_written_once_the_interval_has_passed(table: Table) -> None:
    logger = PredictionLogger(table.write_many, batch_size=500, interval=0.05)
    for number in range(3):
        logger.submit(entry(number))
    table.wait_for(3)
    assert table.numbers() == [0, 1, 2]


def test_a_stopping_process_writes_what_is_queued_and_every_entry_as_it_comes(
    table: Table,
) -> None:
    logger = PredictionLogger(table.write_many, batch_size=500, interval=LONG)
    for number in range(3):
        logger.submit(entry(number))
    logger.stopping()
    assert table.numbers() == [0, 1, 2]
    logger.submit(entry(3))
    table.wait_for(4)
    assert table.numbers() == [0, 1, 2, 3]


def test_a_price_never_waits_for_the_database_and_a_full_queue_drops_entries(
    table: Table, logs: pytest.LogCaptureFixture
) -> None:
    """While a write is stuck, entries queue up to `capacity`; past it submit drops the entry
    with a warning and returns at once. Entries keep the time they were submitted."""
    logger = PredictionLogger(table.write_many, batch_size=1, interval=LONG, capacity=3)
    table.stall()
    logger.submit(entry(0))
    assert table.writing.wait(WAIT_SECONDS), "the first entry is being written"
    for number in range(1, 6):
        logger.submit(entry(number))
    submitted = datetime.now(UTC)
    dropped = [r for r in logs.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in dropped] == [
        "the prediction log is 3 entries behind; an entry was dropped"
    ] * 2
    assert table.rows() == []

    table.resume()
    table.wait_for(4)
    rows = table.rows()
    assert [row["n_stones"] for row in rows] == [0, 1, 2, 3]
    assert all(row["created_at"] <= submitted for row in rows)
    assert not [r for r in logs.records if r.levelno >= logging.ERROR]


def test_a_failing_database_never_fails_the_caller_and_is_logged(
    database_url: str, logs: pytest.LogCaptureFixture
) -> None:
    """A batch the database refuses is logged and dropped; the next batch is written once the
    database is back (here: once its tables exist)."""
    engine = make_engine(database_url)
    table = Table(engine)
    try:
        logger = PredictionLogger(table.write_many, batch_size=2, interval=LONG)
        logger.submit(entry(0))
        logger.submit(entry(1))
        table.wait_for(2)
        migrate(engine)
        logger.submit(entry(2))
        logger.submit(entry(3))
        table.wait_for(4)
        assert table.numbers() == [2, 3]
    finally:
        engine.dispose()
    failures = [r for r in logs.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in failures] == ["could not write 2 prediction log entries"]
    assert failures[0].exc_info and isinstance(failures[0].exc_info[1], sa.exc.DBAPIError)


def test_flush_writes_what_remains(table: Table) -> None:
    logger = PredictionLogger(table.write_many, batch_size=5, interval=LONG)
    for number in range(12):
        logger.submit(entry(number))
    table.wait_for(10)
    logger.flush()
    assert table.numbers() == list(range(12))
    assert table.batches == [5, 5, 2]


def test_entries_that_arrive_during_a_write_wait_for_the_next_one(table: Table) -> None:
    """Under steady load entries arrive while a batch is being written; they join the next
    batch rather than being written one small transaction after another."""
    arriving = iter(range(3, 10))

    def write_while_entries_arrive(entries: list[dict]) -> None:
        table.write_many(entries)
        for number in arriving:
            logger.submit(entry(number))

    logger = PredictionLogger(write_while_entries_arrive, batch_size=500, interval=LONG)
    for number in range(3):
        logger.submit(entry(number))
    logger.flush()
    assert table.batches == [3]
    logger.flush()
    assert table.batches == [3, 7]
    assert table.numbers() == list(range(10))


def test_flush_waits_for_a_batch_being_written(table: Table) -> None:
    logger = PredictionLogger(table.write_many, batch_size=1, interval=LONG)
    table.stall()
    logger.submit(entry(0))
    assert table.writing.wait(WAIT_SECONDS), "the first entry is being written"
    logger.submit(entry(1))
    logger.submit(entry(2))
    flushing = threading.Thread(target=logger.flush)
    flushing.start()
    table.resume()
    flushing.join(WAIT_SECONDS)
    assert not flushing.is_alive()
    assert table.numbers() == [0, 1, 2]


EXITING = """
import json, sys
from functions.database import PredictionLog, make_engine
from functions.prediction_log import PredictionLogger

logger = PredictionLogger(PredictionLog(make_engine(sys.argv[1])).write_many, interval=3600)
for entry in json.loads(sys.argv[2]):
    logger.submit(entry)
"""


@pytest.mark.timeout(120)
def test_entries_still_queued_when_the_process_exits_are_written(
    database_url: str, table: Table
) -> None:
    entries = json.dumps([entry(number) for number in range(3)])
    command = [sys.executable, "-c", EXITING, database_url, entries]
    subprocess.run(command, cwd=REPO, check=True, timeout=WAIT_SECONDS * 2)
    assert table.numbers() == [0, 1, 2]


def test_entries_with_nul_or_deep_nesting_are_kept_with_their_batch(database: sa.Engine) -> None:
    nested: list = []
    for _ in range(300):
        nested = [nested]
    bodies = [
        {"cut": "Ideal"},
        {"no\x00te": "a\x00b", "cut": ["\x00"]},
        {"stones": nested},
    ]
    logger = PredictionLogger(PredictionLog(database).write_many)
    for i, body in enumerate(bodies):
        logger.submit(
            {
                "caller": "anonymous",
                "status": 422,
                "latency_ms": 1.0,
                "n_stones": i,
                "request": {"path": "/v1/price", "query": "", "body": body},
                "response": {"detail": f"/no\x00te: refused {i}"},
            }
        )
    logger.flush()
    deadline = time.monotonic() + 10
    while True:  # the background thread may hold the first entry in the batch it collects
        with database.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT n_stones, request, response FROM prediction_log ORDER BY n_stones")
            ).all()
        if len(rows) == len(bodies) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    documents = [r.request if isinstance(r.request, dict) else json.loads(r.request) for r in rows]
    assert [r.n_stones for r in rows] == [0, 1, 2]
    assert documents[0]["body"] == {"cut": "Ideal"}
    assert documents[1]["body"] == {"no\ufffdte": "a\ufffdb", "cut": ["\ufffd"]}
    assert documents[2] == {"unstorable": "Recursion limit reached"}
    assert "\ufffd" in str(rows[1].response)

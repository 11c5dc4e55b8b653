"""The prediction log keeps every entry it is handed, whatever the request held: a NUL that
PostgreSQL's JSON refuses, or a body nested deeper than JSON is written, costs the entry its
odd part, never the batch it travels in (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from functions.database import PredictionLog
from functions.prediction_log import PredictionLogger


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
